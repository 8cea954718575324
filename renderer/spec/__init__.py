"""The project file: loading (loader), schema checks (schema), resolution (resolve) into the model (model)."""
