import Kiln

struct BrokenModel: Model {
    var body: some Layer {
        Input(shape: [1, 4, 4, 1])
        Conv2D(2, kernel: 5)
        Dense(3)
    }
}
