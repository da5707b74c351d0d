// The allocation-free run paths. Everything here checks sizes against
// precomputed counts, fills the preallocated pointer tables and calls the
// generated code; messages are only built, in the `@inline(never)` helpers
// of CompiledModel+Errors.swift, once something is already wrong.

extension CompiledModel {
    /// Runs the model on caller-owned buffers, one per input and output, without allocating.
    /// Concurrent runs on one model take turns.
    ///
    /// Each buffer must hold exactly its tensor's `byteCount` bytes and be
    /// aligned to its element size. Outputs are overwritten; they must not
    /// overlap the inputs.
    public func run(
        inputs: UnsafeBufferPointer<UnsafeRawBufferPointer>,
        outputs: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>
    ) throws {
        guard inputs.count == inputRequirements.count else {
            throw countMismatch(role: .input, got: inputs.count)
        }
        guard outputs.count == outputRequirements.count else {
            throw countMismatch(role: .output, got: outputs.count)
        }
        for index in 0..<inputs.count {
            try check(.input, index, byteCount: inputs[index].count, address: inputs[index].baseAddress)
        }
        for index in 0..<outputs.count {
            try check(.output, index, byteCount: outputs[index].count, address: outputs[index].baseAddress)
        }
        try exclusively {
            for index in 0..<inputs.count { inputTable[index] = inputs[index].baseAddress }
            for index in 0..<outputs.count { outputTable[index] = outputs[index].baseAddress }
            try invoke()
        }
    }

    /// Runs a model with one input and one output on caller-owned buffers, without allocating.
    public func run(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws {
        guard inputRequirements.count == 1, outputRequirements.count == 1 else {
            throw notSingleTensor(api: "run(input:output:)", elementType: nil)
        }
        try check(.input, 0, byteCount: input.count, address: input.baseAddress)
        try check(.output, 0, byteCount: output.count, address: output.baseAddress)
        try exclusively {
            inputTable[0] = input.baseAddress
            outputTable[0] = output.baseAddress
            try invoke()
        }
    }

    /// Runs a model with one float32 input and one float32 output, without allocating.
    public func run(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        guard inputRequirements.count == 1, outputRequirements.count == 1,
            inputRequirements[0].elementType == .float32,
            outputRequirements[0].elementType == .float32
        else {
            throw notSingleTensor(api: "run(_:into:)", elementType: .float32)
        }
        try run(input: UnsafeRawBufferPointer(input), output: UnsafeMutableRawBufferPointer(output))
    }

    /// Calls the generated code on the buffers already in the pointer tables (under ``exclusively(_:)``);
    /// a model running on a delegate goes through its schedule instead.
    @inline(__always)
    func invoke() throws {
        if let delegated {
            try runSchedule(delegated)
        } else if let parallel {
            parallel.entryPoint(
                arena, UnsafePointer(inputTable), UnsafePointer(outputTable),
                Unmanaged.passUnretained(parallel.pool).toOpaque(), Self.parallelFor)
        } else {
            entryPoint(arena, UnsafePointer(inputTable), UnsafePointer(outputTable))
        }
    }

    /// Throws unless a buffer has exactly the tensor's size and its element alignment.
    @inline(__always)
    func check(
        _ role: TensorRole, _ index: Int, byteCount: Int, address: UnsafeRawPointer?
    ) throws {
        let required = role == .input ? inputRequirements[index] : outputRequirements[index]
        guard byteCount == required.byteCount else {
            throw sizeMismatch(role: role, index: index, got: byteCount)
        }
        // Generated code may use aligned loads, which fault or misbehave otherwise.
        if let address, Int(bitPattern: address) % required.alignment != 0 {
            throw misaligned(role: role, index: index, address: address)
        }
    }

    @inline(__always)
    func check(
        _ role: TensorRole, _ index: Int, byteCount: Int, address: UnsafeMutableRawPointer?
    ) throws {
        try check(role, index, byteCount: byteCount, address: UnsafeRawPointer(address))
    }
}

/// Whether a tensor is an input or an output, for checks and messages.
enum TensorRole {
    case input
    case output
}
