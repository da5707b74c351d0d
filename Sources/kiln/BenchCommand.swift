import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnRuntime

/// `kiln bench MODEL`: median latency of one inference, measured in process,
/// and with `--per-layer` each layer's share of it.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a model's latency per inference (median of many runs), optionally per layer.",
        discussion: """
            A compiled .kiln artifact is loaded as is. A model file (.swift, .tflite, .onnx) is compiled \
            first, into a temporary directory; --per-layer needs one, since it compiles the model with \
            cycle counters around each layer. Per-layer times are the mean run time split by each layer's \
            share of the CPU's time-stamp cycles; GOP/s counts a multiply-accumulate as two operations.
            """)

    @Argument(help: "A compiled .kiln artifact, or a model file (.swift, .tflite, .onnx) to compile first.")
    var path: String

    @Option(help: "Timed inferences.")
    var runs = 2000

    @Option(help: "Untimed inferences first, to warm caches.")
    var warmup = 200

    @Flag(help: "Print each layer's time, kernel, MACs and achieved GOP/s (needs a model file).")
    var perLayer = false

    @OptionGroup var threading: ThreadsOption

    @OptionGroup var variant: ISAOption

    @OptionGroup var targeting: TargetOption

    @OptionGroup var compression: CompressionFlags

    @OptionGroup var delegation: DelegateSelectionOption

    @Flag(help: "With --per-layer: show layer names in full (imported models' names are shortened).")
    var fullNames = false

    @Option(name: .customLong("model"), help: "The model to load from an artifact holding several (an app's, one per model file).")
    var modelName: String?

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var compiled: Compiler.Result?
        let model: CompiledModel
        if url.pathExtension == "kiln" {
            guard targeting.target == nil, targeting.optimize == nil, !compression.asksForPruning,
                compression.shareWeights == nil
            else {
                throw ValidationError(
                    "--target, --optimize, --prune and --share-weights compile a model file; an artifact is already compiled (--isa picks among its variants)")
            }
            guard !perLayer else {
                throw ValidationError(
                    "--per-layer compiles the model with per-layer counters: give the model file (.swift, .tflite, .onnx), not an artifact")
            }
            model = try CompiledModel(
                contentsOf: url, model: modelName, threads: threading.threads,
                cpuFeatures: variant.cpuFeatures(artifact: url, model: modelName), delegate: delegation.selection)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let results = try Compiler(profilesLayers: perLayer).compile(
                ModelSource(url: url), outputDirectory: directory,
                overrides: .init(
                    pruning: try compression.pruning(calibration: nil), weightSharing: compression.weightSharing,
                    target: targeting.compileTarget(),
                    delegates: delegation.processor == "opencl" ? [.openCL(placement: .allSupported)] : nil,
                    optimizationGoal: targeting.optimizationGoal()))
            guard let first = results.first else { throw ValidationError("\(path) defines no model") }
            if results.count > 1 { print("benchmarking '\(first.metadata.modelName)', the first of \(results.count) models") }
            compiled = first
            model = try CompiledModel(
                contentsOf: first.artifact, threads: threading.threads,
                cpuFeatures: variant.cpuFeatures(artifact: first.artifact, model: nil), delegate: delegation.selection)
        }
        let samples = try measure(model)
        let median = samples[samples.count / 2]
        let p10 = samples[samples.count / 10]
        let p90 = samples[samples.count * 9 / 10]
        let threadNote =
            (model.metadata.isaLevel.map { ", \($0)" } ?? "") + (model.threadCount > 1 ? ", \(model.threadCount) threads" : "")
        print(
            String(
                format: "%@: median %.2f µs (p10 %.2f, p90 %.2f) over %d runs%@", model.metadata.modelName, median, p10, p90,
                runs, threadNote))
        if let summary = placementSummary(model) { print("  \(summary)") }
        if perLayer, let compiled, let cycles = model.layerCycles() {
            let mean = samples.reduce(0, +) / Double(samples.count)
            let device = model.delegateLayerNanoseconds().map { nanoseconds in
                DeviceTimes(
                    microseconds: nanoseconds.map { Double($0) / 1000 / Double(samples.count) },
                    kernels: Dictionary(
                        (model.metadata.delegatePlan?.openCL.partitions ?? []).flatMap(\.launches).compactMap { launch in
                            launch.layer.map { ($0, launch.kernel) }
                        }, uniquingKeysWith: { first, _ in first }))
            }
            print(
                try Self.layerTable(
                    compiled, isa: model.metadata.isaLevel.flatMap(ISALevel.init(rawValue:)), cycles: cycles,
                    device: device, meanMicroseconds: mean, names: fullNames ? .full : .short))
        }
    }

    /// Sorted per-run latencies in microseconds; layer counters cover the timed runs only.
    private func measure(_ model: CompiledModel) throws -> [Double] {
        let inputs = model.metadata.inputs.enumerated().map { position, signature in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(signature.byteCount, 1), alignment: 64)
            buffer.copyBytes(from: Self.sampleBytes(for: signature, seed: UInt32(12345 + position)))
            return UnsafeRawBufferPointer(buffer)
        }
        let outputs = model.metadata.outputs.map {
            UnsafeMutableRawBufferPointer.allocate(byteCount: max($0.byteCount, 1), alignment: 64)
        }
        defer {
            inputs.forEach { $0.deallocate() }
            outputs.forEach { $0.deallocate() }
        }
        var samples: [Double] = []
        samples.reserveCapacity(runs)
        let clock = ContinuousClock()
        try inputs.withUnsafeBufferPointer { sources in
            try outputs.withUnsafeBufferPointer { destinations in
                for round in 0..<(warmup + max(runs, 1)) {
                    if round == warmup { model.resetLayerCycles() }
                    let elapsed = try clock.measure { try model.run(inputs: sources, outputs: destinations) }
                    if round >= warmup {
                        samples.append(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
                    }
                }
            }
        }
        return samples.sorted()
    }

    /// Deterministic, non-constant bytes for one input (zeros can take faster paths, e.g. ReLU
    /// sparsity): floats in [-2, 2), int8 over its whole range, int32 indices below 16.
    static func sampleBytes(for signature: TensorSignature, seed: UInt32) -> [UInt8] {
        var state = seed
        func next() -> UInt8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        let count = signature.elementCount
        switch signature.elementType {
        case .float32:
            return (0..<count).flatMap { _ in withUnsafeBytes(of: (Float(Int(next()) - 128) / 64).bitPattern.littleEndian, Array.init) }
        case .int32:
            return (0..<count).flatMap { _ in withUnsafeBytes(of: Int32(next() % 16).littleEndian, Array.init) }
        case .int8, .float16:
            return (0..<signature.byteCount).map { _ in next() }
        }
    }

    /// Per run, the device time of each layer a delegate ran (indexed like the graph's nodes)
    /// and the kernel it launched.
    struct DeviceTimes {
        var microseconds: [Double]
        var kernels: [Int: String]
    }

    /// One row per layer: kernel, MACs, time, share and GOP/s.
    ///
    /// Layers a delegate ran show the device's own time for their kernels; the rest of the mean
    /// (CPU layers, copies and waiting for the device) is shared among CPU layers by their
    /// cycles, or shown as a row of its own when no layer ran on the CPU.
    static func layerTable(
        _ compiled: Compiler.Result, isa: ISALevel?, cycles: [UInt64], device: DeviceTimes? = nil,
        meanMicroseconds: Double, names: LayerNameStyle
    ) throws -> String {
        let plan = KernelPlan(graph: compiled.graph, isa: try isa ?? Compiler.isaLevelRunningHere(compiled.options.target))
        let report = ModelReport(compiled.graph, plan: plan)
        let cpuCycles = cycles.reduce(0, +)
        let deviceMicroseconds = device?.microseconds.reduce(0, +) ?? 0
        let hostMicroseconds = max(meanMicroseconds - deviceMicroseconds, 0)
        let header = ["layer", "kernel", "MACs", "µs", "%", "GOP/s"]
        var rows: [[String]] = []
        func row(_ name: String, _ kernel: String, macs: Int, microseconds: Double) -> [String] {
            let rate = microseconds > 0 && macs > 0 ? String(format: "%.1f", 2 * Double(macs) / microseconds / 1000) : ""
            let share = microseconds / max(meanMicroseconds, 1e-9)
            return [name, kernel, String(macs), String(format: "%.2f", microseconds), String(format: "%.1f", share * 100), rate]
        }
        for (index, (layer, count)) in zip(report.layers, cycles).enumerated() {
            if let device, let kernel = device.kernels[index] {
                let microseconds = device.microseconds.indices.contains(index) ? device.microseconds[index] : 0
                rows.append(row(names.apply(to: layer.name), "opencl \(kernel)", macs: layer.macs, microseconds: microseconds))
            } else {
                let microseconds = hostMicroseconds * Double(count) / Double(max(cpuCycles, 1))
                rows.append(
                    row(
                        names.apply(to: layer.name), layer.kernel.map { names.applyToKernel($0) } ?? layer.kind,
                        macs: layer.macs, microseconds: microseconds))
            }
        }
        if device != nil, cpuCycles == 0 {
            rows.append(row("(copies and waits)", "", macs: 0, microseconds: hostMicroseconds))
        }
        let macs = report.macs
        rows.append(["total", "", String(macs), String(format: "%.2f", meanMicroseconds), "100.0",
            String(format: "%.1f", 2 * Double(macs) / max(meanMicroseconds, 1e-9) / 1000)])
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        // Numbers right-aligned, names left-aligned.
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < 2 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
