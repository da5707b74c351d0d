// Array conveniences. They allocate their results; use the buffer-pointer `run` overloads on hot
// paths.

extension CompiledModel {
    /// Runs a model with one input and one output on float values and returns the output's.
    ///
    /// Quantized tensors are converted at the boundary, as ``run(inputs:)`` does.
    public func predict(_ input: [Float]) throws -> [Float] {
        guard metadata.inputs.count == 1, metadata.outputs.count == 1 else {
            throw notSingleTensor(api: "predict(_:)", elementType: nil)
        }
        if metadata.inputs[0].elementType == .float32, metadata.outputs[0].elementType == .float32 {
            let count = metadata.outputs[0].elementCount
            return try input.withUnsafeBufferPointer { input in
                try [Float](unsafeUninitializedCapacity: count) { output, initializedCount in
                    try run(input, into: output)
                    initializedCount = count
                }
            }
        }
        return try run(inputs: [input])[0]
    }

    /// Runs the model on float values, one array per input in order, and returns each output's.
    ///
    /// float32 tensors pass as they are. An int8 input is quantized with its scale and zero point
    /// (TensorFlow Lite's QUANTIZE: rounded half away from zero, clamped; NaN becomes the zero
    /// point) and an int8 output dequantized, so a full-integer model is called like a float
    /// one; int32 tensors take and give whole numbers. ``run(quantized:)`` gives the raw int8.
    public func run(inputs: [[Float]]) throws -> [[Float]] {
        guard inputs.count == metadata.inputs.count else {
            throw countMismatch(role: .input, got: inputs.count)
        }
        for (index, input) in inputs.enumerated() where input.count != metadata.inputs[index].elementCount {
            throw sizeMismatch(role: .input, index: index, got: input.count * inputRequirements[index].elementType.byteSize)
        }
        let inputBuffers = try zip(metadata.inputs, inputs).map { signature, values in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: signature.byteCount, alignment: 16)
            do {
                try signature.encode(values, into: buffer, role: "input")
            } catch {
                buffer.deallocate()
                throw error
            }
            return buffer
        }
        defer { for buffer in inputBuffers { buffer.deallocate() } }
        let outputBuffers = try runOnNewOutputs(inputBuffers.map { UnsafeRawBufferPointer($0) })
        defer { for buffer in outputBuffers { buffer.deallocate() } }
        return try zip(metadata.outputs, outputBuffers).map { try $0.decode(UnsafeRawBufferPointer($1), role: "output") }
    }

    /// Runs a model whose inputs and outputs are all int8 on their raw values, without converting.
    public func run(quantized inputs: [[Int8]]) throws -> [[Int8]] {
        let signatures = metadata.inputs + metadata.outputs
        if let other = signatures.first(where: { $0.elementType != .int8 }) {
            throw RuntimeError(
                "run(quantized:) needs a model whose tensors are all int8, but '\(other.name)'"
                    + " of model '\(metadata.modelName)' is \(other.elementType.rawValue); use run(inputs:),"
                    + " which converts each tensor")
        }
        guard inputs.count == metadata.inputs.count else {
            throw countMismatch(role: .input, got: inputs.count)
        }
        for (index, input) in inputs.enumerated() where input.count != metadata.inputs[index].elementCount {
            throw sizeMismatch(role: .input, index: index, got: input.count)
        }
        let inputBuffers = inputs.map { input in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(input.count, 1), alignment: 16)
            input.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return buffer
        }
        defer { for buffer in inputBuffers { buffer.deallocate() } }
        let outputBuffers = try runOnNewOutputs(
            zip(inputBuffers, inputs).map { UnsafeRawBufferPointer(rebasing: $0[0..<$1.count]) })
        defer { for buffer in outputBuffers { buffer.deallocate() } }
        return outputBuffers.map { Array($0.bindMemory(to: Int8.self)) }
    }

    /// Runs on `inputs` into newly allocated output buffers, which the caller deallocates.
    private func runOnNewOutputs(_ inputs: [UnsafeRawBufferPointer]) throws -> [UnsafeMutableRawBufferPointer] {
        let outputs = outputRequirements.map {
            UnsafeMutableRawBufferPointer.allocate(byteCount: $0.byteCount, alignment: 16)
        }
        do {
            try inputs.withUnsafeBufferPointer { inputs in
                try outputs.withUnsafeBufferPointer { outputs in try run(inputs: inputs, outputs: outputs) }
            }
        } catch {
            for buffer in outputs { buffer.deallocate() }
            throw error
        }
        return outputs
    }
}
