import KilnIR
import KilnReference

/// The smallest and largest finite value each float32 tensor of a graph takes
/// over a set of calibration samples: what post-training quantization derives
/// activation parameters from (min/max calibration, as TensorFlow Lite's
/// converter does by default).
public struct ActivationRanges: Hashable, Sendable {
    /// Each observed float32 value's range; values never finite in any sample are absent.
    public var ranges: [ValueID: ClosedRange<Float>]

    /// Runs `graph` on every sample (one tensor per graph input, in input order) with the
    /// reference interpreter and records each float32 value's range.
    ///
    /// - Throws: ``DiagnosticError`` when there are no samples, or a sample does not fit the
    ///   graph's inputs or holds a NaN or an infinity, naming the input and the sample.
    public init(_ graph: Graph, samples: [[TensorData]]) throws(DiagnosticError) {
        guard !samples.isEmpty else { throw DiagnosticError("calibration needs at least one sample, got none") }
        let interpreter: ReferenceInterpreter
        do { interpreter = try ReferenceInterpreter(graph) } catch { throw DiagnosticError(error.message) }
        var ranges: [ValueID: ClosedRange<Float>] = [:]
        for (index, sample) in samples.enumerated() {
            try Self.check(sample, number: index, against: graph)
            let values: [ValueID: TensorData]
            do { values = try interpreter.values(sample) } catch {
                throw DiagnosticError("calibration sample \(index): \(error.message)")
            }
            for (id, data) in values where data.dtype == .float32 && graph.constants[id] == nil {
                var lower = Float.infinity
                var upper = -Float.infinity
                for value in data.floats() where value.isFinite {
                    lower = min(lower, value)
                    upper = max(upper, value)
                }
                guard lower <= upper else { continue }
                let seen = ranges[id].map { min($0.lowerBound, lower)...max($0.upperBound, upper) }
                ranges[id] = seen ?? lower...upper
            }
        }
        self.ranges = ranges
    }

    /// Checks that `sample` fits the graph's inputs and holds only finite numbers.
    private static func check(_ sample: [TensorData], number: Int, against graph: Graph) throws(DiagnosticError) {
        guard sample.count == graph.inputs.count else {
            throw DiagnosticError(
                "calibration sample \(number) has \(sample.count) tensors; the model takes \(graph.inputs.count) inputs")
        }
        for (id, data) in zip(graph.inputs, sample) {
            let type = graph.type(of: id)
            let name = graph[id].name
            guard data.dtype == type.dtype, data.shape == type.shape else {
                throw DiagnosticError(
                    "calibration sample \(number) for input '\(name)' is \(data.dtype)\(data.shape); the input is \(type)")
            }
            if data.dtype == .float32, let position = data.floats().firstIndex(where: { !$0.isFinite }) {
                throw DiagnosticError(
                    "calibration sample \(number) for input '\(name)' holds \(data.floats()[position]) at element \(position); calibration samples must be finite"
                )
            }
        }
    }
}
