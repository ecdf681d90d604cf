"""Networks: leaf `nn.Module`s (ResNet-18, PRNet), the registry of backbones by name, the weights
resolver (`--weights`) and the one factory that builds a backbone with its weights.

>>> from spectfsl.core.models.factory import create_model
>>> backbone = create_model("resnet18")
"""
