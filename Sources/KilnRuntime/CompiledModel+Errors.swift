// Messages for the run paths. Kept out of line so that the checks they
// guard stay small and the happy path never touches a String.

extension CompiledModel {
    @inline(never)
    func countMismatch(role: TensorRole, got count: Int) -> RuntimeError {
        let tensors = signatures(role)
        let names = tensors.map { "'\($0.name)'" }.joined(separator: ", ")
        return RuntimeError(
            "model '\(metadata.modelName)' takes \(plural(tensors.count, role))"
                + (tensors.isEmpty ? "" : " (\(names))") + "; got \(count)")
    }

    @inline(never)
    func sizeMismatch(role: TensorRole, index: Int, got byteCount: Int) -> RuntimeError {
        let tensor = signatures(role)[index]
        let verb = role == .input ? "takes" : "produces"
        return RuntimeError(
            "\(role) '\(tensor.name)' of model '\(metadata.modelName)' \(verb)"
                + " \(tensor.sizeDescription); got \(tensor.describeReceived(byteCount: byteCount))"
        )
    }

    @inline(never)
    func misaligned(role: TensorRole, index: Int, address: UnsafeRawPointer) -> RuntimeError {
        let tensor = signatures(role)[index]
        return RuntimeError(
            "\(role) '\(tensor.name)' of model '\(metadata.modelName)' must be aligned to"
                + " \(tensor.elementType.byteSize) bytes for \(tensor.elementType.rawValue);"
                + " got address \(address)")
    }

    /// The error for a single-tensor API used on a model that does not fit it.
    @inline(never)
    func notSingleTensor(api: String, elementType: ElementType?) -> RuntimeError {
        let wanted =
            elementType.map { "one \($0.rawValue) input and one \($0.rawValue) output" }
            ?? "one input and one output"
        return RuntimeError(
            "\(api) needs a model with \(wanted); model '\(metadata.modelName)'"
                + " (\(url?.path ?? "linked")) takes \(describe(metadata.inputs))"
                + " and produces \(describe(metadata.outputs));"
                + " use run(inputs:outputs:) with one buffer per tensor")
    }

    private func signatures(_ role: TensorRole) -> [TensorSignature] {
        role == .input ? metadata.inputs : metadata.outputs
    }

    private func plural(_ count: Int, _ role: TensorRole) -> String {
        "\(count) \(role)\(count == 1 ? "" : "s")"
    }

    /// "int8 'x' [1, 4], float32 'mask' [4]", or "nothing".
    private func describe(_ tensors: [TensorSignature]) -> String {
        guard !tensors.isEmpty else { return "nothing" }
        return tensors.map { "\($0.elementType.rawValue) '\($0.name)' \($0.shape)" }
            .joined(separator: ", ")
    }
}
