import ArgumentParser
import Kiln
import KilnRuntime

/// `--delegate opencl [--require-delegate]`: the delegate `kiln compile`, `inspect` and `bench`
/// compile a model file for.
struct DelegateFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Place the layers the delegate takes on it at build time ('opencl'); the artifact keeps CPU code for the whole model.",
            valueName: "opencl"))
    var delegate: String?

    @Flag(help: "With --delegate: fail the build if any layer cannot run on the delegate, and loading if it cannot start.")
    var requireDelegate = false

    @Flag(
        help:
            "With --delegate: place every layer the delegate supports on it, even pieces too small to pay for their copies and kernel launches (by default the CPU keeps those)."
    )
    var allSupportedLayers = false

    @Option(
        name: .customLong("cpu-layer"),
        help: ArgumentHelp(
            "With --delegate: keep this layer (named as kiln inspect shows it) on the CPU; repeat for several.",
            valueName: "name"))
    var cpuLayers: [String] = []

    @Flag(help: "With --delegate: store float weights and the tensors that stay on the device in half precision (computed in float32).")
    var fp16 = false

    func validate() throws {
        if let delegate, delegate != "opencl" {
            throw ValidationError("--delegate must be 'opencl' when compiling, got '\(delegate)'")
        }
        if delegate == nil, let flag = [
            (requireDelegate, "--require-delegate"), (fp16, "--fp16"), (allSupportedLayers, "--all-supported-layers"),
            (!cpuLayers.isEmpty, "--cpu-layer"),
        ].first(where: \.0)?.1 {
            throw ValidationError("\(flag) needs --delegate opencl")
        }
    }

    /// The delegates the flags ask for; `nil` keeps each model's own.
    var delegates: [CompileOptions.Delegate]? {
        delegate.map { _ in
            [
                .openCL(
                    requireDelegate ? .required : .preferred, storage: fp16 ? .float16 : .float32,
                    placement: allSupportedLayers ? .allSupported : .whereFaster, cpuLayers: cpuLayers)
            ]
        }
    }
}

/// `--delegate opencl|cpu`: where `kiln run` and `bench` run a compiled artifact.
struct DelegateSelectionOption: ParsableArguments {
    @Option(
        name: .customLong("delegate"),
        help: ArgumentHelp(
            "Run on the artifact's delegate ('opencl': fail if it cannot start) or on the CPU alone ('cpu'); by default the delegate when it starts.",
            valueName: "opencl|cpu"))
    var processor: String?

    func validate() throws {
        if let processor, !["opencl", "cpu"].contains(processor) {
            throw ValidationError("--delegate must be 'opencl' or 'cpu', got '\(processor)'")
        }
    }

    /// The runtime's selection for the flag.
    var selection: DelegateSelection {
        switch processor {
        case "opencl": .required
        case "cpu": .cpu
        default: .automatic
        }
    }
}

/// The line `kiln run` and `bench` print about where a model ran.
func placementSummary(_ model: CompiledModel) -> String? {
    guard !model.placement.isEmpty else { return nil }
    let delegated = model.placement.filter { $0.processor != .cpu }.count
    if let device = model.delegateDevice {
        let partitions = model.metadata.delegatePlan?.partitionCount ?? 0
        let inPlace = model.delegateSharesHostMemory ? " (shared memory: weights and arena tensors used in place)" : ""
        return "opencl on '\(device)'\(inPlace): \(delegated) of \(model.placement.count) layers"
            + " in \(partitions) partition\(partitions == 1 ? "" : "s"), the rest on the CPU"
    }
    let reason = model.placement.compactMap(\.reason).first ?? "the CPU was selected"
    return "all \(model.placement.count) layers on the CPU (\(reason))"
}
