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

    @OptionGroup var threading: ThreadsOption

    @OptionGroup var variant: ISAOption

    @OptionGroup var delegation: DelegateSelectionOption

    @Option(name: .customLong("model"), help: "The model to load from an artifact holding several (an app's, one per model file).")
    var modelName: String?

    @Option(help: "Where to write the outputs as .npy, batch first.")
    var outputs: String

    func run() throws {
        let artifactURL = URL(fileURLWithPath: artifact)
        let inputsURL = URL(fileURLWithPath: inputs)
        let model = try CompiledModel(
            contentsOf: artifactURL, model: modelName, threads: threading.threads,
            cpuFeatures: variant.cpuFeatures(artifact: artifactURL, model: modelName), delegate: delegation.selection)
        guard model.metadata.inputs.count == 1, model.metadata.outputs.count == 1 else {
            throw CommandError("\(artifact): kiln run supports models with one input and one output")
        }
        let (input, output) = (model.metadata.inputs[0], model.metadata.outputs[0])
        let data = try NumPyArray.read(contentsOf: inputsURL)
        guard data.dtype.description == DType(input.elementType).description else {
            throw CommandError(
                "\(inputs) holds \(data.dtype) values; the model's input '\(input.name)' takes \(input.elementType.rawValue)")
        }
        // Entries are the model's input shape, or that shape without its batch axis of 1.
        let entryShape = Array(data.shape.dimensions.dropFirst())
        let dropsBatchAxis = input.shape.first == 1 && entryShape == Array(input.shape.dropFirst())
        let batch = data.shape.first ?? 0
        guard batch > 0, entryShape == input.shape || dropsBatchAxis else {
            // Written as Shape prints, e.g. [Nx1x640].
            func batched(_ shape: some Collection<Int>) -> String { "[N" + shape.map { "x\($0)" }.joined() + "]" }
            let expected = input.shape.first == 1 ? "\(batched(input.shape.dropFirst())) or " : ""
            throw CommandError(
                "\(inputs) has shape \(data.shape); for input '\(input.name)' \(Shape(input.shape)) it must be "
                    + "\(expected)\(batched(input.shape)) with N ≥ 1 entries")
        }
        var results = [UInt8](repeating: 0, count: batch * output.byteCount)
        let clock = ContinuousClock()
        let started = clock.now
        try data.bytes.withUnsafeBytes { source in
            try results.withUnsafeMutableBytes { destination in
                for index in 0..<batch {
                    let entry = UnsafeRawBufferPointer(rebasing: source[(index * input.byteCount)..<((index + 1) * input.byteCount)])
                    let slot = UnsafeMutableRawBufferPointer(
                        rebasing: destination[(index * output.byteCount)..<((index + 1) * output.byteCount)])
                    try model.run(input: entry, output: slot)
                }
            }
        }
        let elapsed = clock.now - started
        let perEntry = dropsBatchAxis && output.shape.first == 1 ? Array(output.shape.dropFirst()) : output.shape
        let shape = Shape([batch] + perEntry)
        try NumPyArray.write(
            TensorData(dtype: DType(output.elementType), shape: shape, bytes: results),
            to: URL(fileURLWithPath: outputs), protecting: [inputsURL, artifactURL])
        let microseconds = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
        print(
            String(
                format: "%@: %d %@ through '%@' in %.1f µs each (%d %@) → %@ %@ %@", artifact, batch,
                batch == 1 ? "entry" : "entries", model.metadata.modelName, microseconds / Double(batch), model.threadCount,
                model.threadCount == 1 ? "thread" : "threads", outputs, output.elementType.rawValue, shape.description))
        if let summary = placementSummary(model) { print("  \(summary)") }
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
