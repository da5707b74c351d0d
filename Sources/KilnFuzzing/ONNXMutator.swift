/// Turns a fuzzer's input into a damaged ONNX model: a seed with field values edited.
///
/// The input is a script of edits on the seed's wire-format fields (see
/// ``ProtobufWireMessage``): integers and floats set to values that break
/// arithmetic, names swapped for other names in the model (rewiring the
/// graph), fields dropped, duplicated or reordered, byte strings cut. A few
/// edits flip bytes of the encoded file, so the protobuf decoder's own checks
/// are exercised too.
public struct ONNXMutator: Sendable {
    /// The models edits start from, as wire-format messages.
    public let seeds: [ProtobufWireMessage]

    /// How many edits one input may make.
    static let maximumEdits = 10

    /// A mutator over seed files; those that do not parse as protobuf are left out.
    public init(seeds: [[UInt8]]) {
        let parsed = seeds.compactMap { ProtobufWireMessage(parsing: $0) }
        self.seeds = parsed.isEmpty ? ONNXSeedModels.all.compactMap { ProtobufWireMessage(parsing: $0) } : parsed
    }

    /// The edited model's file bytes for the fuzzer input `data`.
    public func mutate(_ data: [UInt8]) -> [UInt8] {
        var input = FuzzedBytes(data)
        var model = seeds[input.index(below: seeds.count)]
        let names = Self.strings(in: model)
        var flips: [(Int, UInt8)] = []
        for _ in 0..<Self.maximumEdits where !input.isExhausted {
            let kind = input.byte() % 32
            if kind == 31 {
                flips.append((Int(input.uint32()), input.byte() | 1))
            } else {
                Self.edit(&model, kind: kind % 15, names: names, &input, depth: 0)
            }
        }
        var bytes = model.encoded
        for (position, mask) in flips where !bytes.isEmpty { bytes[position % bytes.count] ^= mask }
        return bytes
    }

    /// Walks into a random field (nested messages are entered by choice) and edits it.
    private static func edit(
        _ message: inout ProtobufWireMessage, kind: UInt8, names: [[UInt8]], _ input: inout FuzzedBytes, depth: Int
    ) {
        guard !message.fields.isEmpty else { return }
        let index = input.index(below: message.fields.count)
        if case .message(var inner) = message.fields[index].value, depth < 8, input.byte() % 4 != 0 {
            edit(&inner, kind: kind, names: names, &input, depth: depth + 1)
            message.fields[index].value = .message(inner)
            return
        }
        let field = message.fields[index]
        switch kind {
        case 0...3:
            switch field.value {
            case .varint: message.fields[index].value = .varint(UInt64(bitPattern: Int64(input.interestingInteger())))
            case .fixed32: message.fields[index].value = .fixed32(input.interestingFloat().bitPattern)
            case .fixed64: message.fields[index].value = .fixed64(UInt64(bitPattern: Int64(input.interestingInteger())))
            case .bytes(let bytes) where !names.isEmpty && bytes.count < 64:
                message.fields[index].value = .bytes(names[input.index(below: names.count)])
            case .bytes(let bytes):
                message.fields[index].value = .bytes(Array(bytes.prefix(input.index(below: bytes.count + 1))))
            case .message: break
            }
        case 4, 5:
            message.fields.remove(at: index)
        case 6, 7:
            message.fields.insert(field, at: input.index(below: message.fields.count + 1))
        case 8:
            message.fields.swapAt(index, input.index(below: message.fields.count))
        case 9:
            // The same field under another number: a value of the wrong kind where the schema expects another.
            message.fields[index].number = Int(input.byte() % 24) + 1
        case 10:
            message.fields.append((field.number, .varint(UInt64(bitPattern: Int64(input.interestingInteger())))))
        case 11:
            message.fields.append((field.number, .fixed32(input.interestingFloat().bitPattern)))
        default:
            if case .message(let inner) = field.value {
                message.fields[index].value = .bytes(Array(inner.encoded.prefix(input.index(below: 64))))
            } else if !names.isEmpty {
                message.fields.append((field.number, .bytes(names[input.index(below: names.count)])))
            }
        }
    }

    /// The short byte strings in a message (tensor and node names, operator types), for rewiring edits.
    static func strings(in message: ProtobufWireMessage) -> [[UInt8]] {
        var found: Set<[UInt8]> = []
        func visit(_ message: ProtobufWireMessage) {
            for field in message.fields {
                switch field.value {
                case .message(let inner): visit(inner)
                case .bytes(let bytes) where bytes.count < 48 && bytes.allSatisfy({ (32..<127).contains($0) }): found.insert(bytes)
                default: break
                }
            }
        }
        visit(message)
        return found.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
