

	model
opt

	a/b.c
up
me
	m/x
<:
VARIABLE_VALUE(model/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE
US
VARIABLE_VALUEAmodel/a.Sb..c/.OPTIMIZER_SLOT/opt/m.Sx/.ATTRIBUTES/VARIABLE_VALUE