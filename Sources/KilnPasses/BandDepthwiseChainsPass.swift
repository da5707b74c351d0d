import KilnIR

/// `band-depthwise-chains`: marks each 1×1 expansion, depthwise convolution and 1×1 projection
/// that can run band by band (``Graph/bandableChains()``) in ``Graph/bandedChains``, so the
/// memory plan gives their wide intermediates only the few rows the bands use and code
/// generation computes the three layers a band of rows at a time (``BandedChain``).
///
/// Runs right before `plan-memory`; a graph whose layers may go to a delegate keeps its
/// intermediates whole, since a delegate reads whole tensors.
public struct BandDepthwiseChainsPass: Pass {
    /// The stable id.
    public let id = "band-depthwise-chains"

    /// The intermediate size from which a chain runs in bands.
    public let minimumIntermediateBytes: Int

    /// Creates the pass.
    public init(minimumIntermediateBytes: Int = BandedChain.minimumIntermediateBytes) {
        self.minimumIntermediateBytes = minimumIntermediateBytes
    }

    /// Replaces the graph's chains with every chain it can run in bands.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        graph.bandedChains = graph.bandableChains(minimumIntermediateBytes: minimumIntermediateBytes)
    }
}
