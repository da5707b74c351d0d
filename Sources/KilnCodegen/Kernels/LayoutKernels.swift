import KilnIR

/// Kernels that move data: concatenation, padding, slicing, transposition and reductions, for
/// float32 and int8 tensors.
struct LayoutKernels {
    let emitter: KernelEmitter
    /// The element type of the tensors moved (f32 or i8).
    let elementType: IRType

    private var ir: IRModule { emitter.ir }

    /// Copies `count` elements, transforming each vector with `transform` (identity by default).
    func emitCopy(
        count: Int, from source: IRValue, sourceBase: IRValue, to destination: IRValue, destinationBase: IRValue,
        transform: (IRValue, Int) -> IRValue = { value, _ in value }
    ) {
        for run in LaneRun.covering(count, width: emitter.laneWidth) {
            ir.loop("copy", from: 0, to: run.count) { block in
                let offset = emitter.affine(block, times: run.lanes, plus: run.start)
                let type = ir.vector(elementType, run.lanes)
                let value = ir.load(type, from: ir.gep(elementType, source, [ir.add(sourceBase, offset)]), alignment: 1)
                ir.store(
                    transform(value, run.lanes), to: ir.gep(elementType, destination, [ir.add(destinationBase, offset)]),
                    alignment: 1)
            }
        }
    }

    /// Joins `operands` along `axis` of `shape`; `transforms[i]` maps operand `i`'s vectors into the result.
    func emitConcatenation(
        shape: Shape, axis: Int, operands: [(pointer: IRValue, shape: Shape)], output: IRValue,
        transforms: [(IRValue, Int) -> IRValue]
    ) {
        let axis = Op.normalizedAxis(axis, rank: shape.rank) ?? 0
        let outer = shape.dimensions[..<axis].reduce(1, *)
        let outputBlock = shape.dimensions[axis...].reduce(1, *)
        ir.loop("outer", from: 0, to: outer) { index in
            var offset = 0
            for (position, operand) in operands.enumerated() {
                let block = operand.shape.dimensions[axis...].reduce(1, *)
                emitCopy(
                    count: block, from: operand.pointer, sourceBase: emitter.affine(index, times: block),
                    to: output, destinationBase: emitter.affine(index, times: outputBlock, plus: offset),
                    transform: transforms[position])
                offset += block
            }
        }
    }

    /// Fills `output` with `fill` and copies the input's innermost rows into place.
    func emitPad(input: IRValue, inputShape: Shape, paddings: [[Int]], output: IRValue, outputShape: Shape, fill: IRValue) {
        ir.loop("fill", from: 0, to: outputShape.elementCount) { index in
            ir.store(fill, to: ir.gep(elementType, output, [index]), alignment: 1)
        }
        let rank = inputShape.rank
        let (inputStrides, outputStrides) = (inputShape.strides, outputShape.strides)
        func walk(axis: Int, source: IRValue, destination: IRValue) {
            if axis == rank - 1 {
                emitCopy(
                    count: inputShape[axis], from: input, sourceBase: source, to: output,
                    destinationBase: ir.add(destination, emitter.index(paddings[axis][0])))
                return
            }
            ir.loop("d\(axis)", from: 0, to: inputShape[axis]) { coordinate in
                walk(
                    axis: axis + 1, source: ir.add(source, emitter.affine(coordinate, times: inputStrides[axis])),
                    destination: ir.add(
                        destination, emitter.affine(coordinate, times: outputStrides[axis], plus: paddings[axis][0] * outputStrides[axis])))
            }
        }
        let zero = emitter.index(0)
        if rank == 0 {
            emitCopy(count: 1, from: input, sourceBase: zero, to: output, destinationBase: zero)
        } else {
            walk(axis: 0, source: zero, destination: zero)
        }
    }

    /// Copies the block of `input` starting at `begin` into `output`, one innermost row at a time.
    func emitSlice(input: IRValue, inputShape: Shape, begin: [Int], output: IRValue, outputShape: Shape) {
        let rank = outputShape.rank
        let (inputStrides, outputStrides) = (inputShape.strides, outputShape.strides)
        let start = zip(begin, inputStrides).reduce(0) { $0 + $1.0 * $1.1 }
        func walk(axis: Int, source: IRValue, destination: IRValue) {
            if axis >= rank - 1 {
                emitCopy(
                    count: rank == 0 ? 1 : outputShape[rank - 1], from: input, sourceBase: source, to: output,
                    destinationBase: destination)
                return
            }
            ir.loop("d\(axis)", from: 0, to: outputShape[axis]) { coordinate in
                walk(
                    axis: axis + 1, source: ir.add(source, emitter.affine(coordinate, times: inputStrides[axis])),
                    destination: ir.add(destination, emitter.affine(coordinate, times: outputStrides[axis])))
            }
        }
        walk(axis: 0, source: emitter.index(start), destination: emitter.index(0))
    }

    /// Writes the result of reordering `input`'s axes by `permutation` in
    /// order, reading the input through the permuted strides; where the
    /// result's innermost axis is the input's, rows are copied as vectors.
    func emitTranspose(input: IRValue, inputShape: Shape, permutation: [Int], output: IRValue) {
        let outputShape = Shape(permutation.map { inputShape[$0] })
        let rank = outputShape.rank
        let inputStrides = inputShape.strides
        let sourceStrides = permutation.map { inputStrides[$0] }
        let outputStrides = outputShape.strides
        func walk(axis: Int, source: IRValue, destination: IRValue) {
            if axis == rank - 1 {
                if sourceStrides[axis] == 1 {
                    emitCopy(
                        count: outputShape[axis], from: input, sourceBase: source, to: output, destinationBase: destination)
                } else {
                    ir.loop("i", from: 0, to: outputShape[axis]) { i in
                        let from = ir.gep(elementType, input, [ir.add(source, emitter.affine(i, times: sourceStrides[axis]))])
                        ir.store(
                            ir.load(elementType, from: from, alignment: 1),
                            to: ir.gep(elementType, output, [ir.add(destination, i)]), alignment: 1)
                    }
                }
                return
            }
            ir.loop("d\(axis)", from: 0, to: outputShape[axis]) { coordinate in
                walk(
                    axis: axis + 1, source: ir.add(source, emitter.affine(coordinate, times: sourceStrides[axis])),
                    destination: ir.add(destination, emitter.affine(coordinate, times: outputStrides[axis])))
            }
        }
        let zero = emitter.index(0)
        if rank == 0 {
            emitCopy(count: 1, from: input, sourceBase: zero, to: output, destinationBase: zero)
        } else {
            walk(axis: 0, source: zero, destination: zero)
        }
    }

    /// ``emitReduction(input:inputShape:axes:accumulator:zero:element:combine:finish:)`` for `axes`
    /// that leave the innermost one (NHWC channels, as a global average pool does), a vector of
    /// its positions at a time: each lane sums its own position in input order, as the scalar
    /// fold does, so results are identical. `element` turns a loaded vector of `lanes` into
    /// `accumulator` lanes; `finish` gets the vector of sums and its first output offset.
    /// Returns `false`, emitting nothing, when the innermost axis is reduced.
    func emitInnermostKeptReduction(
        input: IRValue, inputShape: Shape, axes: [Int], accumulator: IRType, zero: IRValue,
        element: (_ vector: IRValue, _ lanes: Int) -> IRValue, combine: (IRValue, IRValue) -> IRValue,
        finish: (_ sums: IRValue, _ outputOffset: IRValue, _ lanes: Int) -> Void
    ) -> Bool {
        let reduced = Set(axes.compactMap { Op.normalizedAxis($0, rank: inputShape.rank) })
        guard let innermost = inputShape.indices.last, !reduced.contains(innermost) else { return false }
        let outerKept = inputShape.indices.filter { !reduced.contains($0) && $0 != innermost }
        let reducedAxes = inputShape.indices.filter { reduced.contains($0) }
        let keptStrides = Shape((outerKept + [innermost]).map { inputShape[$0] }).strides
        let runs = LaneRun.covering(inputShape[innermost], width: emitter.laneWidth)
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map { ($0, emitter.accumulator(ir.vector(accumulator, $0))) })
        let zeroIndex = emitter.index(0)
        forEachPosition("keep", of: outerKept, in: inputShape, outputStrides: keptStrides, source: zeroIndex, destination: zeroIndex) {
            source, destination in
            for run in runs {
                guard let slot = slots[run.lanes] else { continue }
                let type = ir.vector(accumulator, run.lanes)
                ir.loop("lanes", from: 0, to: run.count) { block in
                    let first = emitter.affine(block, times: run.lanes, plus: run.start)
                    ir.store(ir.broadcast(zero, count: run.lanes), to: slot, alignment: 4)
                    forEachPosition("reduce", of: reducedAxes, in: inputShape, source: ir.add(source, first), destination: zeroIndex) {
                        offset, _ in
                        let loaded = ir.load(ir.vector(elementType, run.lanes), from: ir.gep(elementType, input, [offset]), alignment: 1)
                        let current = ir.load(type, from: slot, alignment: 4)
                        ir.store(combine(current, element(loaded, run.lanes)), to: slot, alignment: 4)
                    }
                    finish(ir.load(type, from: slot, alignment: 4), ir.add(destination, first), run.lanes)
                }
            }
        }
        return true
    }

    /// The fold over `axes` of each output element, accumulated in input order
    /// from `zero` with `combine` (a sum by default), handed to `finish` with
    /// the output element's offset.
    ///
    /// `element` converts one loaded input element to the accumulator type
    /// (f32, or i32 minus the zero point).
    func emitReduction(
        input: IRValue, inputShape: Shape, axes: [Int], accumulator: IRType, zero: IRValue,
        element: (IRValue) -> IRValue, combine: ((IRValue, IRValue) -> IRValue)? = nil,
        finish: (_ sum: IRValue, _ outputOffset: IRValue) -> Void
    ) {
        let reduced = Set(axes.compactMap { Op.normalizedAxis($0, rank: inputShape.rank) })
        let kept = inputShape.indices.filter { !reduced.contains($0) }
        let reducedAxes = inputShape.indices.filter { reduced.contains($0) }
        let keptStrides = Shape(kept.map { inputShape[$0] }).strides
        let slot = emitter.accumulator(accumulator)
        let zeroIndex = emitter.index(0)
        forEachPosition("keep", of: kept, in: inputShape, outputStrides: keptStrides, source: zeroIndex, destination: zeroIndex) {
            source, destination in
            ir.store(zero, to: slot, alignment: 4)
            forEachPosition("reduce", of: reducedAxes, in: inputShape, source: source, destination: zeroIndex) { offset, _ in
                let value = element(ir.load(elementType, from: ir.gep(elementType, input, [offset]), alignment: 1))
                let current = ir.load(accumulator, from: slot, alignment: 4)
                let combined =
                    combine?(current, value) ?? (accumulator == ir.f32 ? ir.fadd(current, value) : ir.add(current, value))
                ir.store(combined, to: slot, alignment: 4)
            }
            finish(ir.load(accumulator, from: slot, alignment: 4), destination)
        }
    }

    /// Loops over every position of `axes` of `shape`, outermost first, calling `body` with the
    /// input offset (`source` plus each coordinate times the axis's stride in `shape`) and the
    /// output offset (`destination` plus each coordinate times the matching `outputStrides`
    /// entry; unchanged without them).
    private func forEachPosition(
        _ name: String, of axes: [Int], in shape: Shape, outputStrides: [Int]? = nil, source: IRValue, destination: IRValue,
        _ body: (_ source: IRValue, _ destination: IRValue) -> Void
    ) {
        guard let axis = axes.first else { return body(source, destination) }
        ir.loop("\(name)\(axis)", from: 0, to: shape[axis]) { coordinate in
            forEachPosition(
                name, of: Array(axes.dropFirst()), in: shape, outputStrides: outputStrides.map { Array($0.dropFirst()) },
                source: ir.add(source, emitter.affine(coordinate, times: shape.strides[axis])),
                destination: outputStrides.map { ir.add(destination, emitter.affine(coordinate, times: $0[0])) } ?? destination,
                body)
        }
    }
}
