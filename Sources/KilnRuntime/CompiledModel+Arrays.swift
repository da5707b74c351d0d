// Array conveniences for float32 models. They allocate their results; use
// the buffer-pointer `run` overloads on hot paths.

extension CompiledModel {
    /// Runs a model with one float32 input and one float32 output and returns the output.
    public func predict(_ input: [Float]) throws -> [Float] {
        guard metadata.inputs.count == 1, metadata.outputs.count == 1,
            metadata.inputs[0].elementType == .float32,
            metadata.outputs[0].elementType == .float32
        else {
            throw notSingleTensor(api: "predict(_:)", elementType: .float32)
        }
        let count = metadata.outputs[0].elementCount
        return try input.withUnsafeBufferPointer { input in
            try [Float](unsafeUninitializedCapacity: count) { output, initializedCount in
                try run(input, into: output)
                initializedCount = count
            }
        }
    }

    /// Runs a model whose inputs and outputs are all float32 and returns the outputs in order.
    public func run(inputs: [[Float]]) throws -> [[Float]] {
        let signatures = metadata.inputs + metadata.outputs
        if let other = signatures.first(where: { $0.elementType != .float32 }) {
            throw RuntimeError(
                "run(inputs:) needs a model whose tensors are all float32, but '\(other.name)'"
                    + " of model '\(metadata.modelName)' is \(other.elementType.rawValue);"
                    + " use run(inputs:outputs:) with raw buffers")
        }
        guard inputs.count == metadata.inputs.count else {
            throw countMismatch(role: .input, got: inputs.count)
        }
        for (index, input) in inputs.enumerated()
        where input.count * MemoryLayout<Float>.stride != inputRequirements[index].byteCount {
            throw sizeMismatch(
                role: .input, index: index, got: input.count * MemoryLayout<Float>.stride)
        }
        // Output arrays cannot all be borrowed mutably at once, so the code
        // writes into scratch buffers that are then copied out.
        let outputs = metadata.outputs.map {
            UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.elementCount)
        }
        defer { for output in outputs { output.deallocate() } }
        try exclusively {
            for (index, output) in outputs.enumerated() {
                outputTable[index] = UnsafeMutableRawPointer(output.baseAddress)
            }
            bindInputs(inputs, from: 0)
        }
        return outputs.map { Array($0) }
    }

    /// Points the input table at each array's storage, then runs the model.
    ///
    /// Each array's storage is only valid inside its own
    /// `withUnsafeBufferPointer`, so the calls nest, one per input.
    private func bindInputs(_ inputs: [[Float]], from index: Int) {
        guard index < inputs.count else {
            invoke()
            return
        }
        inputs[index].withUnsafeBufferPointer { buffer in
            inputTable[index] = UnsafeRawPointer(buffer.baseAddress)
            bindInputs(inputs, from: index + 1)
        }
    }
}
