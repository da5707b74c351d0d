import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnRuntime

/// `kiln inspect`: layers, shapes, parameters, MACs and memory of a model or artifact.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's layers, output shapes, parameters, MACs, kernels, arena and weight bytes after passes.")

    @Argument(help: "A Swift model file, a .tflite or .onnx model, or a compiled .kiln artifact.")
    var path: String

    @Flag(help: "Also print the optimized graph as text.")
    var dumpGraph = false

    @Option(
        help: ArgumentHelp(
            "Draw the optimized graph as an SVG picture: branches side by side, fused layers, int8 and float regions, kernels and arena offsets.",
            valueName: "file.svg"))
    var graph: String?

    @Option(
        help: ArgumentHelp(
            "Show the kernels chosen for this ISA level instead of the model's target.",
            valueName: ISALevel.allCases.map(\.rawValue).joined(separator: "|")))
    var isa: ISALevel?

    @Flag(
        name: .customLong("quantization"),
        help:
            "Also show each layer's precision, int8 scale and zero point, weight scales and SQNR against float32, and the outputs' error and top-1 agreement on the samples."
    )
    var showsQuantization = false

    @Flag(help: "Also show the memory plan: each arena buffer's offset, size and lifetime, the lower bound and each placement order's arena.")
    var memory = false

    @Option(help: ArgumentHelp("Draw the memory plan's lifetimes as an SVG picture.", valueName: "file.svg"))
    var memorySvg: String?

    @Flag(help: "Show layer names in full (imported models' names are shortened to their last two scopes).")
    var fullNames = false

    @OptionGroup var quantizing: QuantizationFlags

    @OptionGroup var compression: CompressionFlags

    @OptionGroup var targeting: TargetOption

    @OptionGroup var delegation: DelegateFlags

    func run() throws {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension != "kiln" {
            let quantization = try quantizing.quantization()
            let models = try ModelSource(url: url).load()
            for model in models {
                // Listed before the weights load, so a model whose weight file is missing or
                // incomplete still shows what the file must hold.
                let expected = ExpectedWeights(model.graph)
                if !expected.entries.isEmpty {
                    print("model \(model.name): weights expected\n" + expected.table + "\n")
                }
                let options = model.options.overriding(
                    .init(
                        quantization: quantization,
                        pruning: try compression.pruning(calibration: quantizing.calibrationSource),
                        weightSharing: compression.weightSharing, target: try targeting.compileTarget(),
                        delegates: delegation.delegates, optimizationGoal: try targeting.optimizationGoal()))
                // With --quantization, calibration runs once for the report and the graph.
                var quantizationReport: QuantizationReport?
                let optimized: Graph
                if showsQuantization {
                    let result = try Compiler().optimizeReportingQuantization(
                        model.graph, options: options, samples: quantizing.calibrationSource)
                    (optimized, quantizationReport) = (result.optimized, result.report)
                } else {
                    optimized = try Compiler().optimize(model.graph, options: options)
                }
                let level = try isa ?? Compiler.isaLevelRunningHere(options.target)
                let variants = try Compiler.variantLevels(options.target)
                let variantNote =
                    variants.count > 1
                    ? "; the artifact holds code for \(variants.map(\.rawValue).joined(separator: ", ")), the best the CPU runs chosen at load"
                    : ""
                print("model \(model.name) (kernels for \(level.rawValue)\(variantNote))")
                let names: LayerNameStyle = fullNames ? .full : .short
                let kernels = KernelPlan(graph: optimized, isa: level)
                var report = ModelReport(optimized, plan: kernels)
                report.names = names
                print(report.table)
                if let plan = try Compiler.delegatePlan(for: optimized, options: options) {
                    var placement = PlacementReport(plan)
                    placement.names = names
                    print("\nplacement\n" + placement.table)
                }
                if var quantizationReport {
                    quantizationReport.names = names
                    print("\nquantization\n" + quantizationReport.table)
                }
                // One picture per model: a file of several models must not draw them all over one file.
                func pictureFile(_ path: String) -> URL {
                    let file = URL(fileURLWithPath: path)
                    guard models.count > 1 else { return file }
                    let stem = file.deletingPathExtension().lastPathComponent
                    return file.deletingLastPathComponent().appendingPathComponent("\(stem)-\(model.name).svg")
                }
                if memory || memorySvg != nil, var report = MemoryReport(optimized) {
                    report.names = names
                    if memory { print("\nmemory\n" + report.table) }
                    if let memorySvg {
                        let file = pictureFile(memorySvg)
                        try OutputFile.write(Array(report.svg.utf8), to: file)
                        print("memory plan drawn in \(file.path)")
                    }
                }
                if let graph {
                    let file = pictureFile(graph)
                    let picture = GraphPicture(optimized, plan: kernels, names: names)
                    try OutputFile.write(Array(picture.svg.utf8), to: file)
                    print("graph drawn in \(file.path)")
                }
                if dumpGraph { print("\n" + optimized.textDump) }
            }
        } else {
            guard !showsQuantization, quantizing.quantize == nil, !compression.asksForPruning, compression.shareWeights == nil, !memory, memorySvg == nil, graph == nil, !dumpGraph, delegation.delegate == nil else {
                throw ValidationError(
                    "--quantization, --quantize, --prune, --share-weights, --delegate, --memory, --memory-svg, --graph and --dump-graph need a model file; a .kiln artifact is already compiled")
            }
            // An app's artifact (one per model file) holds several models.
            for (index, metadata) in try ArtifactFile.readModels(contentsOf: url).enumerated() {
                if index > 0 { print("") }
                print("model \(metadata.modelName) (Kiln \(metadata.kilnVersion), format \(metadata.formatVersion))")
                for input in metadata.inputs { print("input  \(Self.describe(input))") }
                for output in metadata.outputs { print("output \(Self.describe(output))") }
                print("arena bytes:  \(metadata.arenaByteCount)")
                print("weight bytes: \(metadata.weightByteCount)")
                print("target:       \(metadata.targetTriple)")
                // Best first, as the runtime tries them; the mark is what this machine runs.
                let running = metadata.variant(for: HostCPU.features)
                for variant in metadata.codeVariants {
                    let mark = variant == running ? " (runs here)" : ""
                    print(
                        "code for \(variant.isaLevel.isEmpty ? variant.targetCPU : variant.isaLevel)\(mark): CPU \(variant.targetCPU),"
                            + " features \(variant.requiredCPUFeatures.joined(separator: " "))")
                }
                if let plan = metadata.delegatePlan {
                    var placement = PlacementReport(plan)
                    placement.names = fullNames ? .full : .short
                    print("placement\n" + placement.table)
                }
            }
        }
    }
}

extension InspectCommand {
    /// `x: int8[1, 28, 28, 1] scale 0.0039 zero point -128`: what an app must feed or read.
    static func describe(_ tensor: TensorSignature) -> String {
        var text = "\(tensor.name): \(tensor.elementType.rawValue)\(tensor.shape)"
        if let scale = tensor.scale, let zeroPoint = tensor.zeroPoint { text += " scale \(scale) zero point \(zeroPoint)" }
        return text
    }
}

extension ISALevel: ExpressibleByArgument {}
