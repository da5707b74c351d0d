import KilnCompiler
import Testing

/// Reports shorten converters' long names (`kiln inspect`, `kiln bench --per-layer`) unless
/// `--full-names` asks for them.
@Suite struct LayerNameStyleTests {
    @Test(arguments: [
        ("functional_1/activation_2/Relu;functional_1/batch_normalization_2/FusedBatchNormV3;conv", "activation_2/Relu"),
        ("mobilenetv2_1.00_224_1/block_1_project_BN_1/batchnorm/add_1;more", "block_1_project_BN_1/batchnorm/add_1"),
        ("StatefulPartitionedCall_1:0", "StatefulPartitionedCall_1"),
        ("dense/BiasAdd", "dense/BiasAdd"),
        ("conv_0", "conv_0"),
        ("model/a_rather_long_scope_name_that_goes_on/and_another_long_one_here/Relu", "and_another_long_one_here/Relu"),
    ])
    func shortNamesKeepTheInnermostScopes(_ name: String, _ short: String) {
        #expect(LayerNameStyle.short.apply(to: name) == short)
        #expect(LayerNameStyle.full.apply(to: name) == name)
    }

    @Test func kernelsAbsorbedIntoALayerNameItShort() {
        #expect(LayerNameStyle.short.applyToKernel("absorbed into functional_1/dense/BiasAdd;x") == "absorbed into dense/BiasAdd")
        #expect(LayerNameStyle.short.applyToKernel("qs8_softmax") == "qs8_softmax")
    }

    @Test func veryLongNamesAreCut() {
        let name = String(repeating: "x", count: 80)
        #expect(LayerNameStyle.short.apply(to: name) == String(repeating: "x", count: 47) + "…")
    }
}
