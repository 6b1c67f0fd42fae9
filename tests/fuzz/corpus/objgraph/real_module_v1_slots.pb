
*
	model
opt
save_counter*
$
v
w
	child
d*
J
beta1_power
	beta2_powermmvv*
MG
VARIABLE_VALUEsave_counter'save_counter/.ATTRIBUTES/VARIABLE_VALUE*
D>
VARIABLE_VALUEVariable"model/v/.ATTRIBUTES/VARIABLE_VALUE*
D>
VARIABLE_VALUEVariable"model/w/.ATTRIBUTES/VARIABLE_VALUE*


parent
w_again*

	
a.b/c
*
OI
VARIABLE_VALUEbeta1_power*opt/beta1_power/.ATTRIBUTES/VARIABLE_VALUE*
OI
VARIABLE_VALUEbeta2_power*opt/beta2_power/.ATTRIBUTES/VARIABLE_VALUE*
LF
VARIABLE_VALUEVariable*model/d/a..b.Sc/.ATTRIBUTES/VARIABLE_VALUE*
E?
VARIABLE_VALUEVariable#model/d//.ATTRIBUTES/VARIABLE_VALUE*
_Y
VARIABLE_VALUEVariable/Adam8model/v/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE*
a[
VARIABLE_VALUEVariable/Adam_28model/w/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE*
a[
VARIABLE_VALUEVariable/Adam_18model/v/.OPTIMIZER_SLOT/opt/v/.ATTRIBUTES/VARIABLE_VALUE*
a[
VARIABLE_VALUEVariable/Adam_38model/w/.OPTIMIZER_SLOT/opt/v/.ATTRIBUTES/VARIABLE_VALUE*