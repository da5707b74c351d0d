import Testing

@testable import KilnIR

@Suite struct ShapeInferenceTests {
    @Test(arguments: [
        // (input, window, stride, dilation, padding, expected output, expected pad before)
        (8, 3, 1, 1, Padding.same, 8, 1), (8, 3, 1, 1, .valid, 6, 0), (7, 3, 2, 1, .same, 4, 1),
        (7, 3, 2, 1, .valid, 3, 0), (10, 3, 1, 2, .same, 10, 2), (10, 3, 1, 2, .valid, 6, 0),
        (4, 5, 2, 1, .valid, 0, 0), (1, 1, 1, 1, .valid, 1, 0), (6, 2, 2, 1, .same, 3, 0),
    ])
    func windowGeometryFollowsTensorFlowRules(
        input: Int, window: Int, stride: Int, dilation: Int, padding: Padding, output: Int, padBefore: Int
    ) {
        let geometry = WindowGeometry(inputSize: input, window: window, stride: stride, dilation: dilation, padding: padding)
        #expect(geometry.outputSize == output)
        #expect(geometry.padBefore == padBefore)
    }

    @Test func conv2DResultShape() throws {
        let op = Op.conv2D(Conv2DAttributes(strides: [2, 2], padding: .same))
        let result = try op.inferResultType(operands: [
            TensorType(.float32, [1, 9, 9, 3]), TensorType(.float32, [8, 3, 3, 3]), TensorType(.float32, [8]),
        ])
        #expect(result == TensorType(.float32, [1, 5, 5, 8]))
    }

    @Test func fullyConnectedMismatchIsDescribed() {
        #expect {
            try Op.fullyConnected(activation: nil).inferResultType(operands: [
                TensorType(.float32, [1, 64]), TensorType(.float32, [10, 63]),
            ])
        } throws: { error in
            (error as? ShapeError)?.message.contains("64 features but the filter [10x63] expects 63") == true
        }
    }

    @Test func biasMustMatchChannels() {
        #expect(throws: ShapeError.self) {
            try Op.fullyConnected(activation: nil).inferResultType(operands: [
                TensorType(.float32, [1, 4]), TensorType(.float32, [3, 4]), TensorType(.float32, [4]),
            ])
        }
    }

    @Test func broadcastFollowsNumPy() throws {
        #expect(try Op.broadcast([1, 4, 4, 8], [8]) == [1, 4, 4, 8])
        #expect(try Op.broadcast([3, 1], [1, 5]) == [3, 5])
        #expect(throws: ShapeError.self) { try Op.broadcast([3, 2], [4]) }
    }

    @Test func zeroStrideIsAnErrorNotACrash() {
        let op = Op.conv2D(Conv2DAttributes(strides: [0, 1]))
        #expect(throws: ShapeError.self) {
            try op.inferResultType(operands: [TensorType(.float32, [1, 4, 4, 1]), TensorType(.float32, [1, 1, 1, 1])])
        }
    }

    @Test func reshapeKeepsElementCount() {
        #expect(throws: ShapeError.self) {
            try Op.reshape([1, 10]).inferResultType(operands: [TensorType(.float32, [1, 3, 3])])
        }
    }
}
