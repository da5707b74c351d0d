import ArgumentParser
import Foundation
import KilnRuntime

/// `kiln bench ARTIFACT`: median latency of one inference, measured in process.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure a compiled model's latency per inference (median of many runs).")

    @Argument(help: "A compiled .kiln artifact.")
    var artifact: String

    @Option(help: "Timed inferences.")
    var runs = 2000

    @Option(help: "Untimed inferences first, to warm caches.")
    var warmup = 200

    func run() throws {
        let model = try CompiledModel(contentsOf: URL(fileURLWithPath: artifact))
        guard model.metadata.inputs.count == 1, model.metadata.outputs.count == 1 else {
            throw ValidationError("kiln bench supports models with one input and one output")
        }
        // Deterministic, non-constant input bytes: zeros can take faster paths (e.g. ReLU sparsity).
        var input = [UInt8](repeating: 0, count: model.metadata.inputs[0].byteCount)
        var state: UInt32 = 12345
        for index in input.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            input[index] = UInt8(truncatingIfNeeded: state >> 24)
        }
        if model.metadata.inputs[0].elementType == .float32 {
            input = (0..<model.metadata.inputs[0].elementCount).flatMap { index -> [UInt8] in
                let value = Float(Int(input[index * 4]) - 128) / 64
                return withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
            }
        }
        var output = [UInt8](repeating: 0, count: model.metadata.outputs[0].byteCount)
        var samples: [Double] = []
        samples.reserveCapacity(runs)
        let clock = ContinuousClock()
        try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { destination in
                for round in 0..<(warmup + runs) {
                    let elapsed = try clock.measure { try model.run(input: source, output: destination) }
                    if round >= warmup {
                        samples.append(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
                    }
                }
            }
        }
        samples.sort()
        let median = samples[samples.count / 2]
        let p10 = samples[samples.count / 10]
        let p90 = samples[samples.count * 9 / 10]
        print(String(format: "%@: median %.2f µs (p10 %.2f, p90 %.2f) over %d runs", model.metadata.modelName, median, p10, p90, runs))
    }
}
