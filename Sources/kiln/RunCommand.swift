import ArgumentParser
import Foundation
import KilnIR
import KilnImport
import KilnRuntime

/// `kiln run ARTIFACT --inputs X.npy --outputs Y.npy`: run each row of X through the model.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a compiled model on every entry along the first axis of a .npy file.")

    @Argument(help: "A compiled .kiln artifact.")
    var artifact: String

    @Option(help: "A float32 .npy file whose first axis is the batch of inputs.")
    var inputs: String

    @Option(help: "Where to write the outputs as .npy, batch first.")
    var outputs: String

    func run() throws {
        let model = try CompiledModel(contentsOf: URL(fileURLWithPath: artifact))
        guard model.metadata.inputs.count == 1, model.metadata.outputs.count == 1 else {
            throw ValidationError("kiln run supports models with one input and one output")
        }
        let (input, output) = (model.metadata.inputs[0], model.metadata.outputs[0])
        let data = try NumPyArray.read(contentsOf: URL(fileURLWithPath: inputs))
        guard data.dtype.description == DType(input.elementType).description else {
            throw ValidationError(
                "\(inputs) holds \(data.dtype) values; the model's input '\(input.name)' takes \(input.elementType.rawValue)")
        }
        let batch = data.shape.first ?? 1
        guard batch > 0, data.elementCount == batch * input.elementCount else {
            throw ValidationError(
                "\(inputs) has shape \(data.shape); each of its \(batch) entries must hold \(input.elementCount) values for input '\(input.name)' \(input.shape)"
            )
        }
        var results = [UInt8](repeating: 0, count: batch * output.byteCount)
        var failure: (any Error)?
        data.bytes.withUnsafeBytes { source in
            results.withUnsafeMutableBytes { destination in
                for index in 0..<batch {
                    let entry = UnsafeRawBufferPointer(rebasing: source[(index * input.byteCount)..<((index + 1) * input.byteCount)])
                    let slot = UnsafeMutableRawBufferPointer(
                        rebasing: destination[(index * output.byteCount)..<((index + 1) * output.byteCount)])
                    do {
                        try model.run(input: entry, output: slot)
                    } catch {
                        failure = error
                        return
                    }
                }
            }
        }
        if let failure { throw failure }
        // A batch axis of 1 in the model is replaced by the file's batch axis.
        let perEntry = data.shape.rank == input.shape.count && output.shape.first == 1
            ? Array(output.shape.dropFirst()) : output.shape
        try NumPyArray.write(
            TensorData(dtype: DType(output.elementType), shape: Shape([batch] + perEntry), bytes: results),
            to: URL(fileURLWithPath: outputs))
    }
}

extension DType {
    /// The IR's name for a runtime element type.
    init(_ type: ElementType) {
        switch type {
        case .float32: self = .float32
        case .float16: self = .float16
        case .int8: self = .int8
        case .int32: self = .int32
        }
    }
}
