// A model file for the post-training quantization tests: SmallCNN's network
// (Models.swift), quantized to full int8 on the samples in calibration.npy,
// which the tests write next to this file with cnn.safetensors.
import Kiln

struct SmallCNNFullInt8: Model {
    var body: some Layer {
        Input(shape: [1, 12, 12, 2])
        Conv2D(8, kernel: 3, padding: .same, activation: .relu)
        AveragePool2D(2)
        Conv2D(16, kernel: 3, strides: 2, activation: .relu)
        MaxPool2D(2, padding: .same)
        Flatten()
        Dense(10)
        Softmax()
    }
    var weights: WeightSource { .safetensors("cnn.safetensors") }
    var options: CompileOptions { CompileOptions(quantization: .int8(calibration: .npy("calibration.npy"))) }
}

// The same network, calibrated on samples its own Swift code makes when the model is traced.
struct SmallCNNSwiftCalibrated: Model {
    var body: some Layer { SmallCNNFullInt8().body }
    var weights: WeightSource { .safetensors("cnn.safetensors") }
    var options: CompileOptions {
        CompileOptions(
            quantization: .int8(
                calibration: .samples(count: 16) { index in
                    (0..<(12 * 12 * 2)).map { Float(($0 * 37 + index * 101) % 97) / 24 - 2 }
                }))
    }
}
