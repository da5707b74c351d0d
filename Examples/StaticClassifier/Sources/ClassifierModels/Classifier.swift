import Kiln

/// A small CNN with seeded weights, compiled statically by KilnPlugin.
struct Classifier: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 1])
        Conv2D(8, kernel: 3, padding: .same, activation: .relu)
        MaxPool2D(2)
        Flatten()
        Dense(32, activation: .relu)
        Dense(10)
        Softmax()
    }
    var weights: WeightSource { .seeded(7) }
}
