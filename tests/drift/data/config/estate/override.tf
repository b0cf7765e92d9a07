# Bastion switched off in this environment.
resource "aws_instance" "bastion" {
  count = 0
}
