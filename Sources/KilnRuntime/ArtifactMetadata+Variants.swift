extension ArtifactMetadata {
    /// Every code variant of the model, best first: ``variants``, or the one the top-level fields describe.
    public var codeVariants: [CodeVariant] {
        variants ?? [
            CodeVariant(
                isaLevel: isaLevel ?? "", entryPoint: entryPoint, parallelEntryPoint: parallelEntryPoint,
                requiredCPUFeatures: requiredCPUFeatures, targetCPU: targetCPU)
        ]
    }

    /// This metadata with its top-level code fields describing `variant` (one of ``variants``).
    public func selecting(_ variant: CodeVariant) -> ArtifactMetadata {
        var selected = self
        selected.isaLevel = variant.isaLevel
        selected.entryPoint = variant.entryPoint
        selected.parallelEntryPoint = variant.parallelEntryPoint
        selected.requiredCPUFeatures = variant.requiredCPUFeatures
        selected.targetCPU = variant.targetCPU
        return selected
    }

    /// The best variant a CPU with `features` (LLVM names) runs: the first whose required
    /// features it has all of. With `features` unknown (`nil`), the last and most portable one,
    /// which an artifact of one variant makes no claim against. `nil` when the CPU runs none.
    public func variant(for features: Set<String>?) -> CodeVariant? {
        CodeVariant.best(of: codeVariants, for: features)
    }
}

extension ArtifactMetadata.CodeVariant {
    /// The loader's rule: the first of `variants` (best first) a CPU with `features` runs, or with
    /// `features` unknown the last; `nil` when the CPU runs none.
    public static func best(of variants: [Self], for features: Set<String>?) -> Self? {
        guard let features else { return variants.last }
        return variants.first { HostCPU.missingFeatures($0.requiredCPUFeatures, available: features).isEmpty }
    }
}
