import Kiln

struct First: Model {
    var body: some Layer {
        Input(shape: [1, 4])
        Dense(2)
    }
}

struct Second: Model {
    var body: some Layer {
        Input(shape: [1, 4])
        Dense(2)
    }
    var weights: WeightSource { .safetensors("missing.safetensors") }
}
