import ArgumentParser
import Foundation
import KilnIR
import KilnImport
import KilnRuntime

/// `kiln run ARTIFACT --inputs X.npy --outputs Y.npy`: run each entry of X through the model;
/// a model with several inputs or outputs takes `--inputs` and `--outputs` once for each, in order.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a compiled model on every entry along the first axis of .npy files.")

    @Argument(help: "A compiled .kiln artifact.")
    var artifact: String

    @Option(
        help: ArgumentHelp(
            "A .npy file whose first axis is the batch of inputs; once per model input, in the model's order.",
            valueName: "file"))
    var inputs: [String]

    @OptionGroup var threading: ThreadsOption

    @OptionGroup var variant: ISAOption

    @OptionGroup var delegation: DelegateSelectionOption

    @Option(name: .customLong("model"), help: "The model to load from an artifact holding several (an app's, one per model file).")
    var modelName: String?

    @Option(
        help: ArgumentHelp("Where to write the outputs as .npy, batch first; once per model output, in order.", valueName: "file"))
    var outputs: [String]

    func run() throws {
        let artifactURL = URL(fileURLWithPath: artifact)
        let model = try CompiledModel(
            contentsOf: artifactURL, model: modelName, threads: threading.threads,
            cpuFeatures: variant.cpuFeatures(artifact: artifactURL, model: modelName), delegate: delegation.selection)
        let signatures = (inputs: model.metadata.inputs, outputs: model.metadata.outputs)
        try checkCount(inputs, "--inputs", signatures.inputs)
        try checkCount(outputs, "--outputs", signatures.outputs)
        let inputURLs = inputs.map { URL(fileURLWithPath: $0) }
        let outputURLs = outputs.map { URL(fileURLWithPath: $0) }
        if let clash = outputURLs.first(where: { output in outputURLs.filter { $0.standardized == output.standardized }.count > 1 }) {
            throw CommandError("--outputs names \(clash.path) twice; each output needs its own file")
        }
        let entries = try zip(inputs, signatures.inputs).map { try Self.entries(of: $1, in: $0) }
        let batch = entries[0].batch
        if let other = zip(inputs, entries).first(where: { $1.batch != batch }) {
            throw CommandError("\(inputs[0]) holds \(batch) entries but \(other.0) holds \(other.1.batch); every input needs one per run")
        }
        // Every input's entries and every output's results in one aligned buffer each, so a run reads
        // and writes slices of them.
        let sources = entries.map { entry in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: entry.data.bytes.count, alignment: 64)
            buffer.copyBytes(from: entry.data.bytes)
            return UnsafeRawBufferPointer(buffer)
        }
        let results = signatures.outputs.map {
            UnsafeMutableRawBufferPointer.allocate(byteCount: batch * $0.byteCount, alignment: 64)
        }
        defer {
            sources.forEach { $0.deallocate() }
            results.forEach { $0.deallocate() }
        }
        // The tables of one run's pointers, made once and refilled, so the timed loop does not allocate.
        var entry = [UnsafeRawBufferPointer](repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: sources.count)
        var slots = [UnsafeMutableRawBufferPointer](
            repeating: UnsafeMutableRawBufferPointer(start: nil, count: 0), count: results.count)
        let clock = ContinuousClock()
        let started = clock.now
        for index in 0..<batch {
            for (position, input) in signatures.inputs.enumerated() {
                entry[position] = UnsafeRawBufferPointer(
                    rebasing: sources[position][(index * input.byteCount)..<((index + 1) * input.byteCount)])
            }
            for (position, output) in signatures.outputs.enumerated() {
                slots[position] = UnsafeMutableRawBufferPointer(
                    rebasing: results[position][(index * output.byteCount)..<((index + 1) * output.byteCount)])
            }
            try entry.withUnsafeBufferPointer { inputs in
                try slots.withUnsafeBufferPointer { try model.run(inputs: inputs, outputs: $0) }
            }
        }
        let elapsed = clock.now - started
        // Entries without their batch axis of 1 give outputs without it too.
        let dropsBatchAxis = entries.allSatisfy(\.dropsBatchAxis)
        var written: [String] = []
        for (position, output) in signatures.outputs.enumerated() {
            let perEntry = dropsBatchAxis && output.shape.first == 1 ? Array(output.shape.dropFirst()) : output.shape
            let shape = Shape([batch] + perEntry)
            try NumPyArray.write(
                TensorData(dtype: DType(output.elementType), shape: shape, bytes: Array(results[position])),
                to: outputURLs[position], protecting: inputURLs + [artifactURL])
            written.append("\(outputs[position]) \(output.elementType.rawValue) \(shape.description)")
        }
        let microseconds = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
        print(
            String(
                format: "%@: %d %@ through '%@' in %.1f µs each (%d %@) → %@", artifact, batch,
                batch == 1 ? "entry" : "entries", model.metadata.modelName, microseconds / Double(batch), model.threadCount,
                model.threadCount == 1 ? "thread" : "threads", written.joined(separator: ", ")))
        if let summary = placementSummary(model) { print("  \(summary)") }
    }

    /// Fails unless `files` gives one file per tensor of `signatures`, naming them when it does not.
    private func checkCount(_ files: [String], _ option: String, _ signatures: [TensorSignature]) throws {
        guard files.count != signatures.count else { return }
        let names = signatures.map { "'\($0.name)'" }.joined(separator: ", ")
        let role = option == "--inputs" ? "input" : "output"
        throw CommandError(
            "\(artifact): the model has \(signatures.count) \(role)\(signatures.count == 1 ? "" : "s") (\(names)); give \(option) "
                + "once for each, in that order (got \(files.count))")
    }

    /// The entries of the .npy file `file` for `input`, checked against its element type and shape.
    private static func entries(of input: TensorSignature, in file: String) throws -> (data: TensorData, batch: Int, dropsBatchAxis: Bool) {
        let data = try NumPyArray.read(contentsOf: URL(fileURLWithPath: file))
        guard data.dtype.description == DType(input.elementType).description else {
            throw CommandError(
                "\(file) holds \(data.dtype) values; the model's input '\(input.name)' takes \(input.elementType.rawValue)")
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
                "\(file) has shape \(data.shape); for input '\(input.name)' \(Shape(input.shape)) it must be "
                    + "\(expected)\(batched(input.shape)) with N ≥ 1 entries")
        }
        return (data, batch, dropsBatchAxis)
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
