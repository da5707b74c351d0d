import Testing

@testable import KilnImport

/// Shape arithmetic folded at import agrees with TensorFlow Lite's operators.
@Suite struct StaticTensorTests {
    let shape = StaticTensor(vector: [1, 5, 5, 16])
    let matrix = StaticTensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])

    func slice(
        _ tensor: StaticTensor, _ begin: [Int], _ end: [Int], _ strides: [Int], beginMask: Int = 0, endMask: Int = 0,
        shrink: Int = 0, offset: Bool = false
    ) throws -> StaticTensor {
        try tensor.stridedSlice(
            begin: begin, end: end, strides: strides, beginMask: beginMask, endMask: endMask, shrinkAxisMask: shrink,
            offset: offset)
    }

    @Test func stridedSliceOfAShape() throws {
        // Keras's Flatten: the batch size, as a scalar.
        #expect(try slice(shape, [0], [1], [1], shrink: 1) == StaticTensor(shape: [], values: [1]))
        #expect(try slice(shape, [1], [0], [1], endMask: 1) == StaticTensor(vector: [5, 5, 16]))
        #expect(try slice(shape, [-1], [0], [-1], endMask: 1) == StaticTensor(vector: [16, 5, 5, 1]))
        #expect(try slice(shape, [0], [4], [2]) == StaticTensor(vector: [1, 5]))
        #expect(try slice(shape, [-3], [10], [1]) == StaticTensor(vector: [5, 5, 16]))
        #expect(try slice(shape, [1], [2], [1], offset: true) == StaticTensor(vector: [5, 5]))
        #expect(try slice(shape, [3], [1], [1]) == StaticTensor(vector: []))
        #expect(try slice(shape, [0], [4], [Int.max]) == StaticTensor(vector: [1]))
        #expect(try slice(shape, [3], [0], [Int.min]) == StaticTensor(vector: [16]))
    }

    @Test func stridedSliceOfAMatrix() throws {
        #expect(try slice(matrix, [1, 0], [2, 3], [1, 2], shrink: 1) == StaticTensor(vector: [4, 6]))
        #expect(try slice(matrix, [0], [2], [1]) == matrix)
        #expect(throws: StaticTensor.Problem.self) { try slice(matrix, [5], [6], [1], shrink: 1) }
        #expect(throws: StaticTensor.Problem.self) { try slice(matrix, [0], [1], [0]) }
    }

    @Test func packConcatenateGather() throws {
        let one = StaticTensor(shape: [], values: [1])
        let minusOne = StaticTensor(shape: [], values: [-1])
        #expect(try StaticTensor.concatenate([one, minusOne], axis: 0, stacking: true) == StaticTensor(vector: [1, -1]))
        #expect(
            try StaticTensor.concatenate([matrix, matrix], axis: -1, stacking: true)
                == StaticTensor(shape: [2, 3, 2], values: [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]))
        #expect(
            try StaticTensor.concatenate([matrix, StaticTensor(shape: [2, 1], values: [7, 8])], axis: 1)
                == StaticTensor(shape: [2, 4], values: [1, 2, 3, 7, 4, 5, 6, 8]))
        #expect(throws: StaticTensor.Problem.self) { try StaticTensor.concatenate([matrix, one], axis: 0) }
        #expect(try shape.gather(StaticTensor(vector: [3, 1]), axis: 0) == StaticTensor(vector: [16, 5]))
        #expect(try matrix.gather(StaticTensor(vector: [2]), axis: 1) == StaticTensor(shape: [2, 1], values: [3, 6]))
        #expect(throws: StaticTensor.Problem.self) { try shape.gather(StaticTensor(vector: [4]), axis: 0) }
    }

    @Test func reductionsAndBroadcasting() throws {
        #expect(try shape.reduce(axes: [0], keepDimensions: false, product: true) == StaticTensor(shape: [], values: [400]))
        #expect(try matrix.reduce(axes: [-1], keepDimensions: true, product: false) == StaticTensor(shape: [2, 1], values: [6, 15]))
        #expect(
            try StaticTensor.broadcast(matrix, StaticTensor(vector: [10, 20, 30]), &+)
                == StaticTensor(shape: [2, 3], values: [11, 22, 33, 14, 25, 36]))
        #expect(throws: StaticTensor.Problem.self) { try StaticTensor.broadcast(matrix, StaticTensor(vector: [1, 2]), &+) }
    }

    @Test func oversizedTensorsAreProblemsNotAllocations() {
        #expect(throws: StaticTensor.Problem.self) { try StaticTensor.count(of: [1 << 20, 1 << 20]) }
        #expect(throws: StaticTensor.Problem.self) { try StaticTensor.count(of: [Int](repeating: 1, count: 100)) }
        #expect(throws: StaticTensor.Problem.self) {
            try StaticTensor(vector: [1]).gather(StaticTensor(vector: [Int](repeating: 0, count: 1 << 21)), axis: 0)
        }
    }
}
