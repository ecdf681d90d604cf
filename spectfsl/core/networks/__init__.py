"""Networks: leaf `nn.Module`s (ResNet-18, PRNet, the anatomy embedding), the registry of backbones by
name and the weights resolver (`--weights`). The factory that builds a backbone with its weights is
`spectfsl.core.proto.backbones.create_model` (it reads PRNet model files, a layer above these leaves).
"""
