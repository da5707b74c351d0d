// Model files for the end-to-end tests. Tests copy this file next to weight
// files they generate, then compile it with the Kiln compiler.
import Kiln

struct MLP: Model {
    var body: some Layer {
        Input(shape: [1, 20])
        Dense(32, activation: .relu)
        Dense(16, activation: .tanh)
        Dense(4)
        Softmax()
    }
    var weights: WeightSource { .safetensors("mlp.safetensors") }
}

struct SmallCNN: Model {
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
}

/// The same network and weights, with int8 weights.
struct SmallCNNInt8: Model {
    var body: some Layer { SmallCNN().body }
    var weights: WeightSource { .safetensors("cnn.safetensors") }
    var options: CompileOptions { CompileOptions(quantization: .int8Weights) }
}

/// The same network and weights, with half of every layer's weights pruned.
struct SmallCNNPruned: Model {
    var body: some Layer { SmallCNN().body }
    var weights: WeightSource { .safetensors("cnn.safetensors") }
    var options: CompileOptions { CompileOptions(pruning: .magnitude(sparsity: 0.5)) }
}
