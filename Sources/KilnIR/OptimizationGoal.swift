/// What code generation favors where a kernel trades weight bytes for speed.
public enum OptimizationGoal: String, Hashable, Sendable, Codable, CaseIterable {
    /// The fastest kernels, even where they store more weight bytes (Winograd's transformed
    /// filters hold 16 weights per 9 of a 3×3 filter): the default.
    case speed
    /// No kernel stores more weight bytes than the model's own filters: for flash-limited devices.
    case size
}
