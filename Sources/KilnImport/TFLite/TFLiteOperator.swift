/// One operator of a subgraph: which operator code it runs, on which tensors, with what options.
public struct TFLiteOperator: Hashable, Sendable {
    /// Index into the model's `operatorCodes`.
    public var opcodeIndex: Int
    /// Indices of the subgraph's tensors the operator reads; -1 marks an absent optional input.
    public var inputs: [Int]
    /// Indices of the subgraph's tensors the operator writes; -1 marks an absent optional output.
    public var outputs: [Int]
    /// The builtin operator's parameters.
    public var options: TFLiteBuiltinOptions

    /// Creates an operator description.
    public init(opcodeIndex: Int, inputs: [Int], outputs: [Int], options: TFLiteBuiltinOptions) {
        self.opcodeIndex = opcodeIndex
        self.inputs = inputs
        self.outputs = outputs
        self.options = options
    }
}

/// An entry of the model's operator table: a builtin operator or a named custom one, and its version.
public struct TFLiteOperatorCode: Hashable, Sendable {
    /// The builtin operator; `.custom` for custom operators.
    public var builtinCode: TFLiteBuiltinOperator
    /// The custom operator's name, for `.custom` operators.
    public var customCode: String?
    /// The operator's version, which says which options and types it may use.
    public var version: Int

    /// Creates an operator code.
    public init(builtinCode: TFLiteBuiltinOperator, customCode: String? = nil, version: Int = 1) {
        self.builtinCode = builtinCode
        self.customCode = customCode
        self.version = version
    }
}

extension TFLiteOperator {
    /// Decodes a schema `Operator` table.
    init(_ table: FlatBufferTable) throws {
        let opcodeIndex = try table.integer(0, default: UInt32(0), "opcode_index")
        let inputs = try table.integers(1, Int32.self, "inputs") ?? []
        let outputs = try table.integers(2, Int32.self, "outputs") ?? []
        let optionsType = try table.integer(3, default: UInt8(0), "builtin_options_type")
        let optionsTable = try table.table(4, "builtin_options")
        self.init(
            opcodeIndex: Int(opcodeIndex), inputs: inputs.map(Int.init),
            outputs: outputs.map(Int.init),
            options: try TFLiteBuiltinOptions(typeCode: Int(optionsType), table: optionsTable))
    }
}

extension TFLiteOperatorCode {
    /// Decodes a schema `OperatorCode` table.
    ///
    /// Schema 3a widened the builtin code from the byte `deprecated_builtin_code`
    /// to the int32 `builtin_code`; older writers fill only the first, newer
    /// ones both (the byte saturating at 127). Like the runtime, take the larger.
    init(_ table: FlatBufferTable) throws {
        let deprecated = try table.integer(0, default: Int8(0), "deprecated_builtin_code")
        let customCode = try table.string(1, "custom_code")
        let version = try table.integer(2, default: Int32(1), "version")
        let extended = try table.integer(3, default: Int32(0), "builtin_code")
        self.init(
            builtinCode: TFLiteBuiltinOperator(code: max(Int(deprecated), Int(extended))),
            customCode: customCode, version: Int(version))
    }
}
