import Kiln

struct BadModel: Model {
    var body: some Layer {
        Input(shape: [1, 10])
        Dense(4)
        Reshape([1, 3, 3, 1])
    }
}
