import Foundation
import KilnIR
import KilnReference

/// The range each float32 tensor of a graph is quantized to, from what it held
/// over a set of calibration samples: what post-training quantization derives
/// activation parameters from.
///
/// ``Method/minMax`` takes the smallest and largest finite value (TensorFlow
/// Lite's converter does this). The other methods clip outliers, trading a
/// few clipped values for a finer step on all the others: both first find the
/// min/max, then histogram every tensor over it in a second run.
public struct ActivationRanges: Hashable, Sendable {
    /// How a tensor's range is chosen from its calibration values.
    public enum Method: Hashable, Sendable {
        /// The smallest and largest finite value seen.
        case minMax
        /// The values at `p` and `100 − p` percent of all values seen (`p` in 50…100, e.g. 99.99).
        case percentile(Double)
        /// The range, within min/max, whose int8 quantization has the least mean squared error
        /// over the values seen (clipping plus rounding).
        case meanSquaredError
        /// The range, within min/max, whose 256-level histogram has the least Kullback–Leibler
        /// divergence from the values' histogram, outliers counted at its edges (TensorRT's
        /// entropy calibration, with both ends shrunk toward 0 for asymmetric int8).
        case klDivergence
    }

    /// Each observed float32 value's range; values never finite in any sample are absent.
    public var ranges: [ValueID: ClosedRange<Float>]
    /// Each observed float32 value's mean along its last axis (the channel axis of NHWC tensors,
    /// the feature axis of matrices), over every other position and every sample.
    public var channelMeans: [ValueID: [Double]]

    /// Histogram bins per tensor for the clipping methods: 8 per int8 step at the widest range.
    static let bins = 2048

    /// Runs `graph` on every sample (one tensor per graph input, in input order) with the
    /// reference interpreter and records each float32 value's range by `method`.
    ///
    /// - Throws: ``DiagnosticError`` when there are no samples, or a sample does not fit the
    ///   graph's inputs or holds a NaN or an infinity, naming the input and the sample.
    public init(_ graph: Graph, samples: [[TensorData]], method: Method = .minMax) throws(DiagnosticError) {
        var ranges: [ValueID: ClosedRange<Float>] = [:]
        var sums: [ValueID: (total: [Double], count: Int)] = [:]
        try Self.forEachValue(of: graph, samples: samples) { id, values in
            let channels = max(graph.type(of: id).shape.dimensions.last ?? 1, 1)
            var sum = sums[id] ?? ([Double](repeating: 0, count: channels), 0)
            for (index, value) in values.enumerated() where value.isFinite { sum.total[index % channels] += Double(value) }
            sum.count += values.count / channels
            sums[id] = sum
            var lower = Float.infinity
            var upper = -Float.infinity
            for value in values where value.isFinite {
                lower = min(lower, value)
                upper = max(upper, value)
            }
            guard lower <= upper else { return }
            ranges[id] = ranges[id].map { min($0.lowerBound, lower)...max($0.upperBound, upper) } ?? lower...upper
        }
        channelMeans = sums.mapValues { sum in sum.total.map { $0 / Double(max(sum.count, 1)) } }
        guard method != .minMax else {
            self.ranges = ranges
            return
        }
        // Over the range widened to hold 0, as quantization will widen it.
        let spans = ranges.mapValues { min($0.lowerBound, 0)...max($0.upperBound, 0) }
        var histograms: [ValueID: [Double]] = [:]
        try Self.forEachValue(of: graph, samples: samples) { id, values in
            guard let span = spans[id], span.upperBound > span.lowerBound else { return }
            var counts = histograms[id] ?? [Double](repeating: 0, count: Self.bins)
            let width = (span.upperBound - span.lowerBound) / Float(Self.bins)
            for value in values where value.isFinite {
                counts[max(0, min(Self.bins - 1, Int((value - span.lowerBound) / width)))] += 1
            }
            histograms[id] = counts
        }
        for (id, counts) in histograms {
            guard let span = spans[id] else { continue }
            ranges[id] = Self.clipped(counts, over: span, by: method)
        }
        self.ranges = ranges
    }

    /// The range `method` picks from a histogram of `Self.bins` equal bins over `span`.
    static func clipped(_ counts: [Double], over span: ClosedRange<Float>, by method: Method) -> ClosedRange<Float> {
        let width = (span.upperBound - span.lowerBound) / Float(counts.count)
        func edge(_ bin: Int) -> Float { span.lowerBound + Float(bin) * width }
        switch method {
        case .minMax:
            return span
        case .percentile(let percent):
            let total = counts.reduce(0, +)
            let tail = total * max(0, min(50, 100 - percent)) / 100
            var below = 0.0
            var first = 0
            while first < counts.count - 1, below + counts[first] <= tail {
                below += counts[first]
                first += 1
            }
            var above = 0.0
            var last = counts.count - 1
            while last > first, above + counts[last] <= tail {
                above += counts[last]
                last -= 1
            }
            return min(edge(first), 0)...max(edge(last + 1), 0)
        case .meanSquaredError:
            // Shrink both ends toward 0 by the same factor; keep the factor whose int8 grid
            // reconstructs the bin centres best.
            var best = (error: Double.infinity, range: span)
            for step in 0..<64 {
                let factor = 1 - Float(step) / 80
                let candidate = (span.lowerBound * factor)...(span.upperBound * factor)
                let parameters = QuantizeInt8Pass.parameters(for: candidate)
                let (scale, zeroPoint) = (parameters.scales[0], Float(parameters.zeroPoints[0]))
                var error = 0.0
                for (bin, count) in counts.enumerated() where count > 0 {
                    let centre = edge(bin) + width / 2
                    let q = max(-128, min(127, (centre / scale).rounded() + zeroPoint))
                    let difference = Double(centre - (q - zeroPoint) * scale)
                    error += count * difference * difference
                }
                if error < best.error { best = (error, candidate) }
            }
            return best.range
        case .klDivergence:
            return klDivergenceRange(counts, over: span)
        }
    }

    /// The ``Method/klDivergence`` range: each end of `span` shrunk toward 0 on its own, by 1 down
    /// to 1/8 in steps of 1/32 (keeping at least 256 bins inside, one per int8 level), keeping the
    /// pair whose quantized histogram `Q` diverges least from the clipped one `P`.
    ///
    /// `P` is the histogram inside the range with the clipped values added to its edge bins; `Q`
    /// merges the inside bins into 256 levels and spreads each level's count evenly over its
    /// non-empty bins, so clipping loses the outliers' mass and a wide range loses resolution.
    /// The bin holding 0 keeps its own count in `Q`: the zero point represents 0 exactly, and a
    /// ReLU's spike of zeros would otherwise swamp the comparison.
    static func klDivergenceRange(_ counts: [Double], over span: ClosedRange<Float>) -> ClosedRange<Float> {
        let bins = counts.count
        let width = (span.upperBound - span.lowerBound) / Float(bins)
        let zeroBin = max(0, min(bins - 1, Int((-span.lowerBound / width).rounded(.down))))
        let levels = 256
        var best = (divergence: Double.infinity, range: span)
        for lowerStep in 0...28 {
            for upperStep in 0...28 {
                let first = zeroBin - Int((Double(zeroBin) * (1 - Double(lowerStep) / 32)).rounded())
                let last = zeroBin + Int((Double(bins - 1 - zeroBin) * (1 - Double(upperStep) / 32)).rounded())
                let inside = last - first + 1
                guard inside >= levels || (lowerStep == 0 && upperStep == 0) else { continue }
                var p = Array(counts[first...last])
                p[0] += counts[..<first].reduce(0, +)
                p[inside - 1] += counts[(last + 1)...].reduce(0, +)
                var q = [Double](repeating: 0, count: inside)
                var start = 0
                for level in 0..<levels {
                    let end = (level + 1) * inside / levels
                    guard end > start else { continue }
                    var total = 0.0
                    var occupied = 0
                    for bin in start..<end where counts[first + bin] > 0 {
                        if first + bin == zeroBin {
                            q[bin] = counts[zeroBin]
                        } else {
                            total += counts[first + bin]
                            occupied += 1
                        }
                    }
                    for bin in start..<end where counts[first + bin] > 0 && first + bin != zeroBin {
                        q[bin] = total / Double(occupied)
                    }
                    start = end
                }
                let divergence = Self.divergence(p, q)
                if divergence < best.divergence {
                    best = (divergence, (span.lowerBound + Float(first) * width)...(span.lowerBound + Float(last + 1) * width))
                }
            }
        }
        return min(best.range.lowerBound, 0)...max(best.range.upperBound, 0)
    }

    /// `KL(P‖Q)` of two histograms, each normalized; a bin that `P` fills and `Q` leaves empty
    /// counts as a small probability, so clipping an outlier is costly but finite.
    static func divergence(_ p: [Double], _ q: [Double]) -> Double {
        let pTotal = p.reduce(0, +)
        let qTotal = q.reduce(0, +)
        guard pTotal > 0, qTotal > 0 else { return .infinity }
        let floor = 1e-4 / Double(p.count)
        var sum = 0.0
        for (pCount, qCount) in zip(p, q) where pCount > 0 {
            let pProbability = pCount / pTotal
            sum += pProbability * log(pProbability / max(qCount / qTotal, floor))
        }
        return sum
    }

    /// Runs the graph on each sample and calls `body` with every non-constant float32 value it computes.
    private static func forEachValue(
        of graph: Graph, samples: [[TensorData]], _ body: (ValueID, [Float]) -> Void
    ) throws(DiagnosticError) {
        guard !samples.isEmpty else { throw DiagnosticError("calibration needs at least one sample, got none") }
        let interpreter: ReferenceInterpreter
        do { interpreter = try ReferenceInterpreter(graph) } catch { throw DiagnosticError(error.message) }
        for (index, sample) in samples.enumerated() {
            try Self.check(sample, number: index, against: graph)
            let values: [ValueID: TensorData]
            do { values = try interpreter.values(sample) } catch {
                throw DiagnosticError("calibration sample \(index): \(error.message)")
            }
            for (id, data) in values where data.dtype == .float32 && graph.constants[id] == nil {
                body(id, data.floats())
            }
        }
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
