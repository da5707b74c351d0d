import KilnRuntime

/// What `kiln inspect --delegate` prints: each layer's processor and partition, the reason for
/// every layer left on the CPU, and each partition's copies between host and device.
public struct PlacementReport {
    /// The placement being reported.
    public let plan: DelegatePlan
    /// How layer names are shown.
    public var names: LayerNameStyle = .short

    /// A report of `plan`.
    public init(_ plan: DelegatePlan) {
        self.plan = plan
    }

    /// The report as text.
    public var table: String {
        let rows = plan.placement.map { layer in
            [
                TextTable.shortened(layer.layer, names), layer.operation, layer.processor.rawValue,
                layer.partition.map(String.init) ?? "-", layer.reason ?? "",
            ]
        }
        var lines = TextTable.lines(header: ["layer", "op", "runs on", "partition", "why not on the delegate"], rows: rows)
        let delegated = plan.placement.filter { $0.processor != .cpu }.count
        lines.append(
            "\(delegated) of \(plan.placement.count) layers on opencl in \(plan.partitionCount)"
                + " partition\(plan.partitionCount == 1 ? "" : "s")\(plan.isRequired ? " (required)" : "")")
        let buffers = plan.openCL.buffers
        let arenaBacked = plan.openCL.arenaBackedBuffers
        for (number, partition) in plan.openCL.partitions.enumerated() {
            let uploaded = partition.uploads.reduce(0) { $0 + buffers[$1.buffer].byteCount }
            let downloaded = partition.downloads.reduce(0) { $0 + buffers[$1.buffer].byteCount }
            let inArena = Set((partition.uploads + partition.downloads).map(\.buffer)).filter { arenaBacked[$0] != nil }
            let inPlace =
                inArena.isEmpty
                ? ""
                : "; \(inArena.count) of them (\(inArena.reduce(0) { $0 + buffers[$1].byteCount }) bytes) lie in the"
                    + " arena and are used in place on a device that shares host memory"
            lines.append(
                "partition \(number): \(partition.launches.count) kernels; copies \(partition.uploads.count) tensors"
                    + " (\(uploaded) bytes) in and \(partition.downloads.count) (\(downloaded) bytes) out\(inPlace)")
        }
        let tensors = buffers.filter { $0.deviceOffset != nil }
        if !tensors.isEmpty {
            lines.append(
                "device tensors: \(plan.openCL.deviceMemoryByteCount) bytes shared by \(tensors.count)"
                    + " (\(tensors.reduce(0) { $0 + $1.byteCount }) bytes if each had its own)")
        }
        let weights = buffers.filter { $0.constantOffset != nil }.reduce(0) { $0 + $1.byteCount }
        lines.append(
            "device weights: \(weights) bytes, uploaded once at load (read in place on a device that shares host memory)")
        return lines.joined(separator: "\n")
    }
}
