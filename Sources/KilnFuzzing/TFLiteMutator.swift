import KilnImport

/// Turns a fuzzer's input into a damaged model: a seed model with field values edited.
///
/// The input is read as a script of edits. Most edit the decoded model
/// (a shape's dimension, a scale, an operator's tensor index, an option, a
/// buffer's length), so the file stays well-formed and the damage reaches the
/// validator, importer and passes rather than stopping at the reader. The
/// rest overwrite scalar fields of the encoded file, or single bytes, so the
/// reader's own checks are exercised too.
public struct TFLiteMutator: Sendable {
    /// The models edits start from.
    public let seeds: [TFLiteModel]

    /// How many edits one input may make; more would mostly break models at the first.
    static let maximumEdits = 12

    /// A mutator over `seeds`, which must not be empty.
    public init(seeds: [TFLiteModel]) {
        self.seeds = seeds.isEmpty ? SeedModels.all : seeds
    }

    /// The edited model's file bytes for the fuzzer input `data`.
    public func mutate(_ data: [UInt8]) -> [UInt8] {
        var input = FuzzedBytes(data)
        var model = seeds[input.index(below: seeds.count)]
        var fileEdits: [(kind: UInt8, choice: Int, value: Int)] = []
        for _ in 0..<Self.maximumEdits where !input.isExhausted {
            let kind = input.byte() % 24
            if kind >= 22 {
                fileEdits.append((kind, Int(input.uint32()), input.interestingInteger()))
            } else {
                edit(&model, kind: kind, &input)
            }
        }
        var (bytes, ranges) = model.encodedWithScalarRanges()
        for edit in fileEdits {
            if edit.kind == 22, !ranges.isEmpty {
                // Overwrite a whole scalar field, keeping the file's offsets intact.
                let range = ranges[edit.choice % ranges.count]
                for (offset, position) in range.enumerated() {
                    bytes[position] = UInt8(truncatingIfNeeded: edit.value >> (8 * offset))
                }
            } else if !bytes.isEmpty {
                bytes[edit.choice % bytes.count] ^= UInt8(truncatingIfNeeded: edit.value) | 1
            }
        }
        return bytes
    }

    /// Applies one model-level edit of `kind`, reading its operands from `input`.
    private func edit(_ model: inout TFLiteModel, kind: UInt8, _ input: inout FuzzedBytes) {
        guard !model.subgraphs.isEmpty else { return }
        let subgraphIndex = input.byte() % 8 == 0 ? input.index(below: model.subgraphs.count) : 0
        var subgraph = model.subgraphs[subgraphIndex]
        defer { model.subgraphs[subgraphIndex] = subgraph }
        let tensorIndex = input.index(below: subgraph.tensors.count)
        let operatorIndex = input.index(below: subgraph.operators.count)
        switch kind {
        case 0 where !subgraph.tensors.isEmpty:
            editShape(&subgraph.tensors[tensorIndex].shape, &input)
        case 1 where !subgraph.tensors.isEmpty:
            subgraph.tensors[tensorIndex].type = TFLiteTensorType(code: input.index(below: 20))
        case 2 where !subgraph.tensors.isEmpty:
            subgraph.tensors[tensorIndex].buffer =
                input.byte() < 200 ? input.index(below: model.buffers.count + 1) : input.interestingInteger()
        case 3 where !subgraph.tensors.isEmpty:
            editQuantization(&subgraph.tensors[tensorIndex].quantization, &input)
        case 4 where !subgraph.tensors.isEmpty:
            let tensor = subgraph.tensors[tensorIndex]
            subgraph.tensors[tensorIndex].shapeSignature = input.byte() % 2 == 0 ? nil : tensor.shape.map { _ in -1 }
            subgraph.tensors[tensorIndex].isVariable.toggle()
        case 5 where !subgraph.operators.isEmpty:
            subgraph.operators[operatorIndex].opcodeIndex =
                input.byte() < 200 ? input.index(below: model.operatorCodes.count + 1) : input.interestingInteger()
        case 6 where !subgraph.operators.isEmpty:
            editIndices(&subgraph.operators[operatorIndex].inputs, count: subgraph.tensors.count, &input)
        case 7 where !subgraph.operators.isEmpty:
            editIndices(&subgraph.operators[operatorIndex].outputs, count: subgraph.tensors.count, &input)
        case 8 where !subgraph.operators.isEmpty:
            editOptions(&subgraph.operators[operatorIndex].options, from: model, &input)
        case 9 where !model.operatorCodes.isEmpty:
            let code = input.index(below: model.operatorCodes.count)
            model.operatorCodes[code].builtinCode = TFLiteBuiltinOperator(code: input.index(below: 210))
        case 10:
            editIndices(&subgraph.inputs, count: subgraph.tensors.count, &input)
        case 11:
            editIndices(&subgraph.outputs, count: subgraph.tensors.count, &input)
        case 12 where model.buffers.count > 1:
            editBuffer(&model.buffers[1 + input.index(below: model.buffers.count - 1)], &input)
        case 13 where !subgraph.operators.isEmpty:
            // Remove, duplicate or move an operator: dangling reads, double writes, reads before writes.
            let other = input.index(below: subgraph.operators.count)
            switch input.byte() % 3 {
            case 0: subgraph.operators.remove(at: operatorIndex)
            case 1: subgraph.operators.insert(subgraph.operators[operatorIndex], at: other)
            default: subgraph.operators.swapAt(operatorIndex, other)
            }
        case 14 where !subgraph.tensors.isEmpty:
            // A new tensor like an existing one, so indices just past the old end become valid.
            subgraph.tensors.append(subgraph.tensors[tensorIndex])
        case 15 where !subgraph.tensors.isEmpty:
            let dimension = input.byte()
            subgraph.tensors[tensorIndex].shape = subgraph.tensors[tensorIndex].shape.map { _ in Int(dimension % 5) }
        case 16:
            model.operatorCodes.append(
                TFLiteOperatorCode(builtinCode: TFLiteBuiltinOperator(code: input.index(below: 210)), version: Int(input.byte())))
        case 17 where !subgraph.operators.isEmpty:
            let source = subgraph.operators[input.index(below: subgraph.operators.count)]
            subgraph.operators[operatorIndex].inputs = source.inputs
        case 18:
            model.version = input.byte() % 4 == 0 ? input.interestingInteger() : 3
        case 19 where model.subgraphs.count < 3:
            model.subgraphs.append(subgraph)
        case 20 where !subgraph.tensors.isEmpty:
            // Share a constant's buffer with another tensor, whatever its size and type.
            let other = input.index(below: subgraph.tensors.count)
            subgraph.tensors[tensorIndex].buffer = subgraph.tensors[other].buffer
        default:
            // Tensors move while operators keep their indices: every index now means another tensor.
            guard subgraph.tensors.count > 1 else { return }
            subgraph.tensors.swapAt(tensorIndex, input.index(below: subgraph.tensors.count))
        }
    }

    private func editShape(_ shape: inout [Int], _ input: inout FuzzedBytes) {
        switch input.byte() % 4 {
        case 0 where !shape.isEmpty: shape.removeLast()
        case 1 where shape.count < 8: shape.insert(input.byte() < 128 ? 1 : input.interestingInteger(), at: 0)
        default:
            guard !shape.isEmpty else { return }
            shape[input.index(below: shape.count)] = input.interestingInteger()
        }
    }

    private func editQuantization(_ quantization: inout TFLiteQuantization?, _ input: inout FuzzedBytes) {
        var parameters = quantization ?? TFLiteQuantization(scale: [0.1], zeroPoint: [0])
        switch input.byte() % 6 {
        case 0: quantization = nil; return
        case 1 where !parameters.scale.isEmpty: parameters.scale[input.index(below: parameters.scale.count)] = input.interestingFloat()
        case 2 where !parameters.zeroPoint.isEmpty:
            parameters.zeroPoint[input.index(below: parameters.zeroPoint.count)] = Int64(input.interestingInteger())
        case 3: parameters.quantizedDimension = input.byte() < 200 ? Int(input.byte() % 6) : input.interestingInteger()
        case 4:
            let count = input.byte() < 128 ? Int(input.byte() % 70) : input.index(below: 300)
            parameters.scale = Array(parameters.scale.prefix(count)) + Array(repeating: 0.5, count: max(0, count - parameters.scale.count))
            parameters.zeroPoint = Array(repeating: 0, count: input.byte() % 4 == 0 ? Int(input.byte()) : count)
        default:
            parameters.min = input.byte() % 2 == 0 ? nil : [input.interestingFloat()]
            parameters.max = [input.interestingFloat()]
        }
        quantization = parameters
    }

    private func editIndices(_ indices: inout [Int], count: Int, _ input: inout FuzzedBytes) {
        let value: Int
        switch input.byte() % 4 {
        case 0: value = -1
        case 1: value = input.interestingInteger()
        default: value = input.index(below: count + 2)
        }
        switch input.byte() % 4 {
        case 0 where !indices.isEmpty: indices.remove(at: input.index(below: indices.count))
        case 1 where indices.count < 16: indices.append(value)
        default:
            guard !indices.isEmpty else { return indices.append(value) }
            indices[input.index(below: indices.count)] = value
        }
    }

    private func editOptions(_ options: inout TFLiteBuiltinOptions, from model: TFLiteModel, _ input: inout FuzzedBytes) {
        let value = input.interestingInteger()
        switch options {
        case .conv2D(var o):
            switch input.byte() % 5 {
            case 0: o.strideWidth = value
            case 1: o.strideHeight = value
            case 2: o.dilationWidthFactor = value
            case 3: o.dilationHeightFactor = value
            default: o.padding = o.padding == .same ? .valid : .same
            }
            options = .conv2D(o)
        case .depthwiseConv2D(var o):
            switch input.byte() % 5 {
            case 0: o.strideWidth = value
            case 1: o.strideHeight = value
            case 2: o.depthMultiplier = value
            case 3: o.dilationWidthFactor = value
            default: o.padding = o.padding == .same ? .valid : .same
            }
            options = .depthwiseConv2D(o)
        case .pool2D(var o):
            switch input.byte() % 5 {
            case 0: o.strideWidth = value
            case 1: o.strideHeight = value
            case 2: o.filterWidth = value
            case 3: o.filterHeight = value
            default: o.padding = o.padding == .same ? .valid : .same
            }
            options = .pool2D(o)
        case .fullyConnected(var o):
            o.keepNumDims.toggle()
            if value % 3 == 0 { o.weightsFormat = .shuffled4x16Int8 }
            if value % 2 == 0 { o.asymmetricQuantizeInputs.toggle() }
            options = .fullyConnected(o)
        case .softmax: options = .softmax(beta: input.interestingFloat())
        case .concatenation(_, let activation): options = .concatenation(axis: value, activation: activation)
        case .reshape: options = .reshape(newShape: input.byte() % 4 == 0 ? nil : [1, value])
        case .squeeze: options = .squeeze(dimensions: [value])
        case .reducer(let keepDims): options = .reducer(keepDims: !keepDims)
        default:
            // Another operator's options, or none: options of the wrong kind for the operator.
            let all = model.subgraphs.flatMap(\.operators).map(\.options)
            options = all.isEmpty || value % 5 == 0 ? .none : all[input.index(below: all.count)]
        }
    }

    private func editBuffer(_ buffer: inout [UInt8], _ input: inout FuzzedBytes) {
        switch input.byte() % 4 {
        case 0: buffer.removeLast(min(buffer.count, Int(input.byte()) + 1))
        case 1: buffer += repeatElement(0, count: Int(input.byte()) + 1)
        case 2: buffer = []
        default:
            // Non-finite weights: NaN and infinity bit patterns in every float slot.
            let pattern: [UInt8] = input.byte() % 2 == 0 ? [0x00, 0x00, 0xC0, 0x7F] : [0x00, 0x00, 0x80, 0xFF]
            buffer = buffer.indices.map { pattern[$0 % 4] }
        }
    }
}
