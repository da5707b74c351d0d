import Kiln

// PluginTests.addingAModelToAFileRebuildsIt adds a second model to this file, builds again and
// restores it: the build must compile the new model too.
struct First: Model {
    var body: some Layer {
        Input(shape: [1, 4])
        Dense(3)
    }
    var weights: WeightSource { .seeded(1) }
}
