import Kiln

struct NeedsTheApp: Model {
    var body: some Layer {
        Input(shape: [1, AppConfiguration.featureCount])
        Dense(3)
    }
}
