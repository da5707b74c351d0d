import ArgumentParser
import Kiln

/// The pruning and weight-sharing flags `kiln compile` and `kiln inspect` share.
struct CompressionFlags: ParsableArguments {
    @Option(help: "Prune every model: zero this fraction (0…1) of each layer's filter weights, e.g. 0.5.")
    var prune: Double?

    @Option(
        help:
            "How --prune chooses weights: 'magnitude' (any weights), 'block' (blocks of 16 output units, which the block-sparse kernels skip: faster), 'channel' (whole output channels and the next layer's matching inputs: smaller dense layers), N:M, e.g. 2:4 (N kept of every M along each unit's inputs; needs no --prune), or 'wanda' (magnitude with --calibration). With --calibration, every method ranks weights by magnitude times input activation and repairs the kept weights by least squares on the samples."
    )
    var pruneMethod: String = "magnitude"

    @Option(
        help:
            "Whether --prune's fraction holds per layer ('layer'), for all weights together ('global'), or per output unit ('unit': every unit keeps as many; the gathering sparse kernels store no padding)."
    )
    var pruneScope: String = "layer"

    @Option(
        help:
            "Share weights: give each layer at most this many distinct weights (2…256, k-means, after --prune); with 16 or fewer, kernels store 4-bit indices."
    )
    var shareWeights: Int?

    /// What `--prune-method` says: the pattern and whether calibration samples rank the weights.
    func method() throws -> (pattern: CompileOptions.PruningPattern, activationAware: Bool) {
        switch pruneMethod {
        case "magnitude": return (.unstructured, false)
        case "block": return (.blocks, false)
        case "channel": return (.channels, false)
        case "wanda": return (.unstructured, true)
        default:
            let parts = pruneMethod.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 2, let n = parts[0], let m = parts[1], m >= 1, (0...m).contains(n) else {
                throw ValidationError(
                    "--prune-method must be magnitude, block, channel, wanda or N:M with 0 ≤ N ≤ M (e.g. 2:4), got '\(pruneMethod)'")
            }
            return (.nOfM(n: n, m: m), false)
        }
    }

    func validate() throws {
        if let prune, !(0...1).contains(prune) {
            throw ValidationError("--prune must be a fraction from 0 to 1, got \(prune)")
        }
        _ = try method()
        if !asksForPruning, pruneMethod != "magnitude" || pruneScope != "layer" {
            throw ValidationError("--prune-method and --prune-scope need --prune FRACTION")
        }
        if let shareWeights, !(2...256).contains(shareWeights) {
            throw ValidationError("--share-weights must be from 2 to 256, got \(shareWeights)")
        }
        guard ["layer", "global", "unit"].contains(pruneScope) else {
            throw ValidationError("--prune-scope must be 'layer', 'global' or 'unit', got '\(pruneScope)'")
        }
    }

    /// Whether the flags prune at all: a fraction, or an N:M method, which needs none.
    var asksForPruning: Bool {
        guard prune == nil else { return true }
        if case .nOfM? = try? method().pattern { return true }
        return false
    }

    /// The weight sharing the flags ask for, replacing each model's own; `nil` keeps the models' choice.
    var weightSharing: CompileOptions.WeightSharing? { shareWeights.map { .kMeans(centroids: $0) } }

    /// The pruning the flags ask for, replacing each model's own; activation-aware on
    /// `calibration`'s samples when given; `nil` keeps the models' choice.
    func pruning(calibration: CompileOptions.Calibration?) throws -> CompileOptions.Pruning? {
        let (pattern, needsCalibration) = try method()
        var sparsity = prune
        if case .nOfM(let n, let m) = pattern { sparsity = 1 - Double(n) / Double(m) }
        guard let sparsity else { return nil }
        let scope: CompileOptions.PruningScope = pruneScope == "global" ? .global : pruneScope == "unit" ? .perUnit : .perLayer
        guard let calibration else {
            if needsCalibration { throw ValidationError("--prune-method wanda needs --calibration FILE.npy") }
            return .magnitude(sparsity: sparsity, scope: scope, pattern: pattern)
        }
        return .activationAware(sparsity: sparsity, calibration: calibration, scope: scope, pattern: pattern)
    }
}
