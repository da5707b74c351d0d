import Foundation
import Kiln
import KilnIR
import KilnImport

/// Loads the calibration samples of ``CompileOptions/Calibration`` for a graph,
/// one tensor per sample, checked against the graph's input.
enum CalibrationSamples {
    /// The samples of `calibration` for `graph`'s inputs, one tensor per input each; errors are
    /// reported at `location` (where the model's options were written).
    ///
    /// - Throws: ``DiagnosticError`` naming the model and the file when the file is
    ///   unreadable, not the input's element type, not shaped `[N, …input]`, holds no sample, or
    ///   holds a NaN or an infinity, or when the files do not match the inputs one for one.
    static func load(
        _ calibration: CompileOptions.Calibration, for graph: Graph, at location: SourceLocation?
    ) throws(DiagnosticError) -> [[TensorData]] {
        let origin: String
        switch calibration {
        case .npy(let path): origin = "calibration file \(URL(fileURLWithPath: path).path)"
        case .npyFiles(let paths): origin = "calibration files \(paths.map { URL(fileURLWithPath: $0).path }.joined(separator: ", "))"
        case .samples: origin = "calibration samples"
        }
        func failure(_ message: String) -> DiagnosticError {
            DiagnosticError("model '\(graph.name)': \(origin): \(message)", at: location)
        }
        let inputs = graph.inputs
        let samples: [[TensorData]]
        switch calibration {
        case .npy(let path):
            guard inputs.count == 1 else { throw failure(perInputMessage(graph)) }
            samples = try stacked(path, input: graph[inputs[0]].name, type: graph.type(of: inputs[0]), failure: failure)
        case .npyFiles(let paths):
            guard paths.count == inputs.count else {
                throw failure("\(paths.count) files for \(inputs.count) input\(inputs.count == 1 ? "" : "s"); " + perInputMessage(graph))
            }
            let perInput = try zip(paths, inputs).map { (path, input) throws(DiagnosticError) in
                try stacked(path, input: graph[input].name, type: graph.type(of: input)) { message in
                    DiagnosticError("model '\(graph.name)': calibration file \(URL(fileURLWithPath: path).path): \(message)", at: location)
                }
            }
            let counts = perInput.map(\.count)
            guard Set(counts).count == 1 else {
                throw failure("the files hold \(counts.map(String.init).joined(separator: ", ")) samples; each input needs one per sample")
            }
            samples = (0..<counts[0]).map { index in perInput.map { $0[index][0] } }
        case .samples(let arrays):
            guard inputs.count == 1 else { throw failure(perInputMessage(graph)) }
            let type = graph.type(of: inputs[0])
            let perSample = max(type.shape.elementCount, 1)
            guard type.dtype == .float32 else {
                throw failure("hold float32 values; input '\(graph[inputs[0]].name)' is \(type.dtype)")
            }
            if let (index, sample) = arrays.enumerated().first(where: { $0.element.count != perSample }) {
                throw failure("sample \(index) has \(sample.count) values; input '\(graph[inputs[0]].name)' \(type) takes \(perSample)")
            }
            samples = arrays.map { [TensorData($0, shape: type.shape)] }
        }
        guard !samples.isEmpty else { throw failure("holds no samples") }
        for (index, sample) in samples.enumerated() {
            for (tensor, input) in zip(sample, inputs) where tensor.dtype == .float32 {
                let values = tensor.floats()
                if let position = values.firstIndex(where: { !$0.isFinite }) {
                    let which = inputs.count == 1 ? "" : " of input '\(graph[input].name)'"
                    throw failure(
                        "sample \(index)\(which) holds \(values[position]) at element \(position); calibration samples must be finite")
                }
            }
        }
        return samples
    }

    /// How a model with several inputs takes its calibration samples.
    private static func perInputMessage(_ graph: Graph) -> String {
        let names = graph.inputs.map { "'\(graph[$0].name)'" }.joined(separator: ", ")
        return "the model has \(graph.inputs.count) inputs (\(names)): give one .npy file per input, in that order "
            + "(.npyFiles([…]), or --calibration once per input)"
    }

    /// The samples of a `.npy` file stacked along a first axis, one tensor of `type` each.
    private static func stacked(
        _ path: String, input name: String, type: TensorType, failure: (String) -> DiagnosticError
    ) throws(DiagnosticError) -> [[TensorData]] {
        let data: TensorData
        do { data = try NumPyArray.read(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw failure(error.localizedDescription)
        }
        guard data.dtype == type.dtype else { throw failure("holds \(data.dtype) values; input '\(name)' is \(type.dtype)") }
        // Samples stack along a new first axis, or along the input's own batch axis of 1.
        let sampleShape = type.shape.dimensions
        let stacked = data.shape.dimensions
        let fits =
            stacked.count == sampleShape.count + 1 && Array(stacked.dropFirst()) == sampleShape
            || sampleShape.first == 1 && stacked.count == sampleShape.count && Array(stacked.dropFirst()) == Array(sampleShape.dropFirst())
        guard fits else {
            let expected = ["N"] + (sampleShape.first == 1 ? sampleShape.dropFirst() : sampleShape[...]).map(String.init)
            throw failure("has shape \(data.shape); input '\(name)' is \(type), so samples stack as [\(expected.joined(separator: ", "))]")
        }
        let count = stacked.first ?? 0
        guard count > 0 else { return [] }
        let bytes = data.bytes
        let sampleBytes = bytes.count / count
        return (0..<count).map { index in
            [TensorData(dtype: data.dtype, shape: type.shape, bytes: Array(bytes[(index * sampleBytes)..<((index + 1) * sampleBytes)]))]
        }
    }
}
