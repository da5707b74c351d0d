import Foundation
import Kiln
import KilnIR
import KilnImport

/// Loads the calibration samples of ``CompileOptions/Calibration`` for a graph,
/// one tensor per sample, checked against the graph's input.
enum CalibrationSamples {
    /// The samples of `calibration` for `graph`'s one input; errors are reported at `location`
    /// (where the model's options were written).
    ///
    /// - Throws: ``DiagnosticError`` naming the model and the file when the file is
    ///   unreadable, not the input's element type, not shaped `[N, …input]`, holds no sample, or
    ///   holds a NaN or an infinity.
    static func load(
        _ calibration: CompileOptions.Calibration, for graph: Graph, at location: SourceLocation?
    ) throws(DiagnosticError) -> [[TensorData]] {
        guard case .npy(let path) = calibration else { return [] }
        let url = URL(fileURLWithPath: path)
        func failure(_ message: String) -> DiagnosticError {
            DiagnosticError("model '\(graph.name)': calibration file \(url.path): \(message)", at: location)
        }
        guard graph.inputs.count == 1, let input = graph.inputs.first else {
            throw failure("a .npy file calibrates a model with one input; this one has \(graph.inputs.count)")
        }
        let type = graph.type(of: input)
        let data: TensorData
        do { data = try NumPyArray.read(contentsOf: url) } catch { throw failure(error.localizedDescription) }
        guard data.dtype == type.dtype else {
            throw failure("holds \(data.dtype) values; input '\(graph[input].name)' is \(type.dtype)")
        }
        // Samples stack along a new first axis, or along the input's own batch axis of 1.
        let sampleShape = type.shape.dimensions
        let stacked = data.shape.dimensions
        let fits =
            stacked.count == sampleShape.count + 1 && Array(stacked.dropFirst()) == sampleShape
            || sampleShape.first == 1 && stacked.count == sampleShape.count && Array(stacked.dropFirst()) == Array(sampleShape.dropFirst())
        guard fits else {
            let expected = ["N"] + (sampleShape.first == 1 ? sampleShape.dropFirst() : sampleShape[...]).map(String.init)
            throw failure(
                "has shape \(data.shape); input '\(graph[input].name)' is \(type), so samples stack as [\(expected.joined(separator: ", "))]")
        }
        let count = stacked.first ?? 0
        guard count > 0 else { throw failure("holds no samples") }
        if data.dtype == .float32, let position = data.floats().firstIndex(where: { !$0.isFinite }) {
            let perSample = max(type.shape.elementCount, 1)
            throw failure(
                "sample \(position / perSample) holds \(data.floats()[position]) at element \(position % perSample); calibration samples must be finite"
            )
        }
        let bytes = data.bytes
        let sampleBytes = bytes.count / count
        return (0..<count).map { index in
            [TensorData(dtype: data.dtype, shape: type.shape, bytes: Array(bytes[(index * sampleBytes)..<((index + 1) * sampleBytes)]))]
        }
    }
}
