import Kiln

struct Crashy: Model {
    var body: some Layer {
        Input(shape: [1, 8])
        let sizes = [4]
        Dense(sizes[3])
    }
}
