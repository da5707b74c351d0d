import Kiln

struct WideModel: Model {
    var body: some Layer {
        Input(shape: [1, Settings.width])
        Dense(2)
    }
}
