from torchvision._stub import missing

__getattr__ = missing(__name__)
