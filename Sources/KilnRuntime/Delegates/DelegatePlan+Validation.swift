extension DelegatePlan {
    /// The first inconsistency that would make a run read or write out of bounds: a schedule step
    /// naming a missing partition or nodes past the placement, a buffer index out of range, or a
    /// copy larger than its host memory; `nil` for a plan the runtime can follow safely.
    func problem(for metadata: ArtifactMetadata) -> String? {
        let program = openCL
        for step in schedule {
            switch step {
            case .cpu(let begin, let end):
                guard 0 <= begin, begin <= end, end <= placement.count else {
                    return "the schedule runs layers \(begin)..<\(end) of \(placement.count)"
                }
            case .delegate(let partition):
                guard program.partitions.indices.contains(partition) else {
                    return "the schedule names partition \(partition) of \(program.partitions.count)"
                }
            }
        }
        for buffer in program.buffers where buffer.byteCount < 0 {
            return "a device buffer has \(buffer.byteCount) bytes"
        }
        func hostBytes(_ location: OpenCLProgram.HostLocation) -> Int? {
            switch location {
            case .input(let index): metadata.inputs.indices.contains(index) ? metadata.inputs[index].checkedByteCount : nil
            case .output(let index): metadata.outputs.indices.contains(index) ? metadata.outputs[index].checkedByteCount : nil
            case .arena(let offset): offset >= 0 && offset <= metadata.arenaByteCount ? metadata.arenaByteCount - offset : nil
            }
        }
        for partition in program.partitions {
            for transfer in partition.uploads + partition.downloads {
                guard program.buffers.indices.contains(transfer.buffer), let available = hostBytes(transfer.location),
                    program.buffers[transfer.buffer].byteCount <= available
                else { return "a copy between host and device lies outside its buffers" }
            }
            for launch in partition.launches {
                guard launch.buffers.allSatisfy(program.buffers.indices.contains),
                    (1...3).contains(launch.globalSize.count), launch.globalSize.allSatisfy({ $0 >= 0 })
                else { return "kernel \(launch.kernel) has arguments or a work size that do not exist" }
            }
        }
        return nil
    }
}
