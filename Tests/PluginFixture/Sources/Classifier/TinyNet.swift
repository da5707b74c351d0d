import Kiln

struct TinyNet: Model {
    var body: some Layer {
        Input(shape: [1, 6, 6, 3]).named("pixels")
        Conv2D(8, kernel: 3, padding: .same, activation: .relu)
        MaxPool2D(2)
        Conv2D(5, kernel: 2, activation: .gelu)
        Flatten()
        Dense(7, activation: .tanh)
        Dense(4)
        Softmax().named("scores")
    }
    var weights: WeightSource { .seeded(42) }
}
