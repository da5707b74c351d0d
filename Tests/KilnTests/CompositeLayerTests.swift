import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
import Testing

/// A decoder written with the DSL's composite layers.
struct DecoderDSL: Model {
    var body: some Layer {
        Input(shape: [1, 5, 6, 3])
        Conv2DTranspose(4, kernel: 3, strides: 2, padding: .same, activation: .relu).named("up")
        DepthToSpace(blockSize: 2)
        SpaceToDepth(blockSize: 2)
        Tile([1, 1, 1, 2])
        L2Normalization()
        LogSoftmax()
    }
}

/// One transposed convolution.
struct TransposedConvDSL: Model {
    var body: some Layer {
        Input(shape: [1, 5, 6, 3])
        Conv2DTranspose(4, kernel: 3, strides: 2, padding: .same, activation: .relu).named("up")
    }
}

/// The DSL's composite layers (`Conv2DTranspose`, `DepthToSpace`, `SpaceToDepth`, `Tile`,
/// `L2Normalization`, `LogSoftmax`) against their definitions.
@Suite struct CompositeLayerTests {
    /// A transposed convolution as its definition scatters it: each input pixel adds
    /// its filter window, times its value, at `position · stride − padding`.
    static func scatteredTransposedConvolution(
        _ x: [Float], _ shape: Shape, _ w: [Float], _ filters: Int, kernel: Int, stride: Int, bias: [Float]
    ) -> [Float] {
        let (h, wi, c) = (shape[1], shape[2], shape[3])
        let (oh, ow) = (h * stride, wi * stride)
        let pad = max((h - 1) * stride + kernel - oh, 0) / 2
        let padW = max((wi - 1) * stride + kernel - ow, 0) / 2
        var out = [Float](repeating: 0, count: oh * ow * filters)
        for y in 0..<h {
            for xi in 0..<wi {
                for i in 0..<kernel {
                    for j in 0..<kernel {
                        let (oy, ox) = (y * stride + i - pad, xi * stride + j - padW)
                        guard (0..<oh).contains(oy), (0..<ow).contains(ox) else { continue }
                        for o in 0..<filters {
                            for k in 0..<c {
                                out[(oy * ow + ox) * filters + o] += x[(y * wi + xi) * c + k] * w[((o * kernel + i) * kernel + j) * c + k]
                            }
                        }
                    }
                }
            }
        }
        return out.enumerated().map { index, value in max(value + bias[index % filters], 0) }
    }

    @Test func transposedConvolutionScattersEachPixel() throws {
        let graph = try Compiler().optimize(try TransposedConvDSL.graph(), options: CompileOptions())
        // The filter's half turn was folded: the convolution reads constants.
        let conv = try #require(graph.nodes.first { if case .conv2D = $0.op { true } else { false } })
        let turned = try #require(graph.constantData(conv.inputs[1])).floats()
        let bias = try #require(graph.constantData(conv.inputs[2])).floats()
        // The filter as the layer loaded it: turned back.
        let weights = (0..<turned.count).map { index in
            let (c, j, i, o) = (index % 3, index / 3 % 3, index / 9 % 3, index / 27)
            return turned[((o * 3 + (2 - i)) * 3 + (2 - j)) * 3 + c]
        }
        let x = uniformValues(90, seed: 3)
        let result = try ReferenceInterpreter(graph).run([TensorData(x, shape: [1, 5, 6, 3])])[0].floats()
        let expected = Self.scatteredTransposedConvolution(x, [1, 5, 6, 3], weights, 4, kernel: 3, stride: 2, bias: bias)
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 10, 12, 4])
        expectClose(result, expected, tolerance: 1e-5, "Conv2DTranspose")
    }

    @Test func compiledDecoderMatchesTheReference() throws {
        try expectCompiledMatchesReference(try DecoderDSL.graph(), tolerance: 1e-5, "DSL decoder")
    }
}
