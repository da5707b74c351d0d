print(try WideModel.compiled().model.metadata.modelName)
