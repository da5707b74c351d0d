import KilnIR
import KilnPasses

/// Pass helpers for tests that import `Kiln`, whose `Activation` alias would otherwise be ambiguous.
enum KilnPassesBridge {
    static func fuse(_ graph: inout Graph) throws {
        try FuseBiasActivationPass().run(on: &graph)
    }
}
