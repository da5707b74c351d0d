print(try BadModel.compiled().model.metadata.modelName)
