"""Request and response bodies of the HTTP service (they make up its OpenAPI schema)."""
from typing import List, Optional

from pydantic import BaseModel, ConfigDict, Field


class ImageData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="The image file's bytes (JPEG, PNG, ...), base64-encoded.")


class FastDeployRequest(BaseModel):
    """FastDeploy simple serving's request body: `{"data": {"image": "<base64>"}, "parameters": {}}`."""
    model_config = ConfigDict(extra="forbid")
    data: ImageData
    parameters: dict = Field(default_factory=dict, description="Accepted for FastDeploy clients; unused.")


class LabelScore(BaseModel):
    label: str
    score: float = Field(ge=0.0, le=1.0)


MASKED = Field(None, description="Whether the face wears a mask, as the face-status model says; it chose the "
                               "expression model (absent where the server's model folder has no such model).")
MASK_SCORE = Field(None, ge=0.0, le=1.0, description="The face-status model's probability of a mask.")
EXPRESSION_MODEL = Field(None, description="Which expression model answered: 'masked' (the model for masked faces) "
                                          "or 'unmasked' (absent where the server has no such choice).")


class PredictResponse(BaseModel):
    label: str = Field(description="The most probable expression.")
    score: float = Field(ge=0.0, le=1.0, description="Its probability.")
    topk: List[LabelScore] = Field(description="The top-k expressions, most probable first.")
    masked: Optional[bool] = MASKED
    mask_score: Optional[float] = MASK_SCORE
    expression_model: Optional[str] = EXPRESSION_MODEL
    result: str = Field(description='FastDeploy simple serving\'s result: a JSON string {"label_ids": [...], '
                                    '"scores": [...]}, readable by fastdeploy.vision.utils.json_to_classify.')
    warning: Optional[str] = Field(None, description="Set when the image looks like a whole photo rather than a face "
                                                  "crop: send it with faces=1 to find the faces.")


class Face(BaseModel):
    box: List[int] = Field(min_length=4, max_length=4, description="[left, top, right, bottom] in pixels.")
    label: str
    score: float = Field(ge=0.0, le=1.0)
    topk: List[LabelScore]
    masked: Optional[bool] = MASKED
    mask_score: Optional[float] = MASK_SCORE
    expression_model: Optional[str] = EXPRESSION_MODEL


class FacesResponse(BaseModel):
    count: int = Field(ge=0, description="Number of faces found and classified.")
    faces: List[Face]
    too_small: List[List[int]] = Field(default_factory=list, description="[left, top, right, bottom] of each face "
                                       "found under the smallest size the models classify: not classified.")
    message: Optional[str] = Field(None, description="Why no face was classified, where faces were found too "
                                                     "small: for the user.")


class Health(BaseModel):
    status: str
    backend: str
    precision: str = Field(description="What the graphs compute in: fp32, or bf16 (the paddle backend's bfloat16 "
                                       "convolutions, by default on a CPU that computes them natively).")
    model_dir: str
    model: str = Field(description="The models served, by name, and which faces each answers.")
    labels: List[str]


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong with the request and what to send instead.")
