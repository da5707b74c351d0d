import KilnRuntime

extension OpenCLProgram {
    /// The alignment of every planned tensor in device memory: a multiple of the sub-buffer
    /// alignment OpenCL devices report (128 bytes on PoCL and Mali, 256 on AMD, 512 on NVIDIA).
    public static let deviceMemoryAlignment = 512

    /// The program with its tensors placed in one shared piece of device memory, so tensors whose
    /// lifetimes do not overlap reuse the same bytes, as the CPU code's arena does.
    ///
    /// Lifetimes come from the program itself: a tensor lives from the first copy or kernel of any
    /// partition that touches it to the last, in the order a run executes them. Placement is
    /// greedy by size, largest first, each at the lowest aligned offset free over its lifetime
    /// (TFLite Micro's greedy planner). Weights keep their own read-only buffers.
    public func planningDeviceMemory() -> OpenCLProgram {
        var first: [Int: Int] = [:]
        var last: [Int: Int] = [:]
        var time = 0
        func touch(_ buffer: Int) {
            guard buffers.indices.contains(buffer), buffers[buffer].constantOffset == nil else { return }
            first[buffer] = first[buffer] ?? time
            last[buffer] = time
        }
        for partition in partitions {
            partition.uploads.forEach { touch($0.buffer) }
            time += 1
            for launch in partition.launches {
                launch.buffers.forEach(touch)
                time += 1
            }
            partition.downloads.forEach { touch($0.buffer) }
            time += 1
        }
        let alignment = Self.deviceMemoryAlignment
        func size(_ buffer: Int) -> Int { (max(buffers[buffer].byteCount, 4) + alignment - 1) / alignment * alignment }
        let order = first.keys.sorted { (size($0), $1) > (size($1), $0) }
        var placed: [(buffer: Int, offset: Int, end: Int)] = []
        var planned = self
        for buffer in order {
            let lifetime = (first[buffer] ?? 0)...(last[buffer] ?? 0)
            let busy =
                placed
                .filter { lifetime.overlaps((first[$0.buffer] ?? 0)...(last[$0.buffer] ?? 0)) }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            for range in busy where range.end > offset {
                if range.offset >= offset + size(buffer) { break }
                offset = range.end
            }
            placed.append((buffer, offset, offset + size(buffer)))
            planned.buffers[buffer].deviceOffset = offset
        }
        return planned
    }
}
