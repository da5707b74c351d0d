import Kiln

struct Unweighted: Model {
    var body: some Layer {
        Input(shape: [1, 4])
        Dense(2)
    }
    var weights: WeightSource { .safetensors("absent.safetensors") }
}
