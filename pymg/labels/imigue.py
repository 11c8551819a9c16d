"""iMiGUE class names (32 classes; 0-based index ``i`` is class ``C(i+1)``).

Classes 0-30 are the 31 micro-gestures, class 31 (raw label 99 in the MiGA release) is the non-MG
class "illustrative body language".
"""

from __future__ import annotations

__all__ = ["IMIGUE_CLASSES"]

IMIGUE_CLASSES: tuple[str, ...] = (
    "turtle neck",  # C1
    "bulging face, deep breath",  # C2
    "touching hat",  # C3
    "touching or scratching head",  # C4
    "touching or scratching forehead",  # C5
    "covering face",  # C6
    "rubbing eyes",  # C7
    "touching or scratching facial parts",  # C8
    "touching ears",  # C9
    "biting nails",  # C10
    "touching jaw",  # C11
    "touching or scratching neck",  # C12
    "playing or adjusting hair",  # C13
    "buckle button, pulling shirt collar, adjusting tie",  # C14
    "touching or covering suprasternal notch",  # C15
    "scratching back",  # C16
    "folding arms",  # C17
    "dustoffing clothes",  # C18
    "putting arms behind body",  # C19
    "moving torso",  # C20
    "sitting straightly",  # C21
    "scratching or touching arms",  # C22
    "rubbing or holding hands",  # C23
    "crossing fingers",  # C24
    "minaret gesture",  # C25
    "playing or manipulating objects",  # C26
    "hold back arms",  # C27
    "head up",  # C28
    "pressing lips",  # C29
    "arms akimbo",  # C30
    "shaking shoulders",  # C31
    "illustrative body language",  # C32 (non micro-gesture)
)
