import Kiln
import KilnIR
import KilnPasses

extension Compiler {
    /// Quantizes `graph` as `options` ask and compares every layer with the float32 graph it came
    /// from, on `samples` when given, else on the int8 calibration samples of `options`.
    ///
    /// A graph whose options quantize nothing is reported as it is (an imported int8 model's own
    /// parameters), without errors: it has no float32 graph to be compared with.
    public func quantizationReport(
        _ graph: Graph, options: CompileOptions, samples: CompileOptions.Calibration? = nil
    ) throws -> QuantizationReport {
        try optimizeReportingQuantization(graph, options: options, samples: samples).report
    }

    /// The graph as ``optimize(_:options:)`` makes it, and its ``quantizationReport(_:options:samples:)``,
    /// calibrating once for both (`kiln inspect --quantization`).
    public func optimizeReportingQuantization(
        _ graph: Graph, options: CompileOptions, samples: CompileOptions.Calibration? = nil
    ) throws -> (optimized: Graph, report: QuantizationReport) {
        try graph.validate()
        let configuration = try Self.pipelineConfiguration(options, for: graph)
        let float = try PassPipeline.preparation(configuration).run(WeightResolver.resolve(graph))
        let quantization = PassPipeline.quantization(configuration)
        let quantized = try quantization.run(float)
        let optimized = try PassPipeline([PlanMemoryPass()]).run(quantized)
        guard !quantization.passes.isEmpty else {
            return (optimized, try QuantizationReport(float: float, quantized: float, samples: []))
        }
        let measured = try samples.map { try CalibrationSamples.load($0, for: graph, at: nil) } ?? configuration.int8Calibration ?? []
        return (optimized, try QuantizationReport(float: float, quantized: quantized, samples: measured))
    }
}
